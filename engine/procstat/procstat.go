// Package procstat reads the process figures that benchmarks and the load
// tools report, from Linux's /proc and getrusage: the load average, a
// process's CPU time and its resident memory. Each reads 0 where the
// figure cannot be had (another system, a process gone).
package procstat

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LoadAvg is the one-minute load average.
func LoadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

// CPUTime is the user and system CPU time process pid has used, from
// /proc/PID/stat.
func CPUTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	return statCPU(b)
}

// statCPU reads utime and stime from the text of /proc/PID/stat. Linux
// counts them in ticks of 1/100 s.
func statCPU(b []byte) time.Duration {
	// The command name (field 2) may hold spaces and parentheses: count
	// from its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// SelfCPU is the CPU time this process has used (getrusage), finer than
// CPUTime's ticks.
func SelfCPU() time.Duration { return rusage(syscall.RUSAGE_SELF) }

// ChildrenCPU is the CPU time of this process's children that have ended
// and been waited for (getrusage).
func ChildrenCPU() time.Duration { return rusage(syscall.RUSAGE_CHILDREN) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RSS is the resident memory of process pid in bytes, from
// /proc/PID/status.
func RSS(pid int) int64 { return statusBytes(pid, "VmRSS:") }

// RSSAnon is the anonymous part of process pid's resident memory (its
// heap and stacks, not the pages of files it maps), in bytes.
func RSSAnon(pid int) int64 { return statusBytes(pid, "RssAnon:") }

func statusBytes(pid int, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	return statusKB(b, field) << 10
}

// statusKB reads a field given in kB from the text of /proc/PID/status.
func statusKB(b []byte, field string) int64 {
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	return 0
}
