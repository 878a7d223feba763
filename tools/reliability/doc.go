// Package reliability holds cross-cutting tests of the whole server: crash
// consistency under SIGKILL, a full or read-only disk, hostile input, and
// the configured limits. It has no code of its own; see
// docs/reliability.md for the commands and the figures.
package reliability
