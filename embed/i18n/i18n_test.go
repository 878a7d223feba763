package i18n

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
)

// TestCataloguesAgree: every language has exactly the keys of English, with
// the same placeholders, and no empty string.
func TestCataloguesAgree(t *testing.T) {
	en := Get(Default)
	if len(languages) < 3 {
		t.Fatalf("%d languages; want English and at least two more", len(languages))
	}
	ph := regexp.MustCompile(`\{[a-z]+\}`)
	for _, l := range languages {
		c := catalogues[l.Code]
		if l.Name == "" {
			t.Errorf("%s has no lang_name", l.Code)
		}
		for k, v := range en {
			got, ok := c[k]
			if !ok {
				t.Errorf("%s lacks %q", l.Code, k)
				continue
			}
			if got == "" {
				t.Errorf("%s: %q is empty", l.Code, k)
			}
			a, b := ph.FindAllString(v, -1), ph.FindAllString(got, -1)
			sort.Strings(a)
			sort.Strings(b)
			if len(a) != len(b) || (len(a) > 0 && a[0] != b[0]) || (len(a) > 1 && a[len(a)-1] != b[len(b)-1]) {
				t.Errorf("%s: %q has placeholders %v, English %v", l.Code, k, b, a)
			}
		}
		for k := range c {
			if _, ok := en[k]; !ok {
				t.Errorf("%s has %q, which English lacks", l.Code, k)
			}
		}
	}
}

// TestEveryUsedKeyExists scans the templates and the scripts for the keys
// they use: each must be in the catalogues, so no page shows a bare key.
func TestEveryUsedKeyExists(t *testing.T) {
	en := Get(Default)
	uses := map[string]string{}
	scan := func(glob string, res ...*regexp.Regexp) {
		files, err := filepath.Glob(glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("no files for %s: %v", glob, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, re := range res {
				for _, m := range re.FindAllStringSubmatch(string(b), -1) {
					uses[m[1]] = f
				}
			}
		}
	}
	scan("../templates/*.html", regexp.MustCompile(`\.T\.([a-z0-9_]+)`), regexp.MustCompile(`tr [$.A-Za-z]+ "([a-z0-9_]+)"`))
	jsKey := regexp.MustCompile(`\bt\(\s*["']([a-z0-9_]+)["']`)
	scan("../static/js/*.js", jsKey)
	scan("../static/js/room/*.js", jsKey)
	// The server's pages and errors (engine/web), and the chat lines the room writes (sys_ keys).
	scan("../../engine/web/*.go", regexp.MustCompile(`\.(?:T|Format)\("([a-z0-9_]+)"[,)]`), regexp.MustCompile(`"(acct_err_[a-z_]+)"`))
	goSys := regexp.MustCompile(`a\.system\("([a-z_]+)"`)
	files, _ := filepath.Glob("../../engine/room/*.go")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goSys.FindAllStringSubmatch(string(b), -1) {
			uses["sys_"+m[1]] = f
		}
	}
	// Keys made at run time from a fixed set of values.
	for _, k := range []string{"ended_kicked_title", "ended_deleted_text", "ended_removed_title", "reason_control_owner", "reason_video_moderators",
		"reason_queue_everyone", "presence_away", "sync_ok", "sync_catching", "sync_off", "sync_buffering", "role_owner", "role_moderator",
		"level_everyone", "level_moderators", "level_owner", "refuse_not_found_title", "refuse_bad_code_text", "refuse_guest_create_title",
		"share_you_camera", "share_other_screen", "unread_one", "unread_other", "make_moderator_of", "make_member_of", "err_title_404", "flash_signedup",
		"sys_joined", "sys_left", "sys_left_room", "sys_removed", "sys_video", "sys_next_video", "sys_up_next", "sys_share_screen", "sys_share_camera",
		"sys_share_stopped", "sys_stream_started", "sys_stream_ended", "sys_stream_stopped", "sys_locked", "sys_unlocked"} {
		uses[k] = "(run time)"
	}
	if len(uses) < 100 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(uses))
	}
	for k, f := range uses {
		if _, ok := en[k]; !ok {
			t.Errorf("%s uses %q, which the catalogues lack", f, k)
		}
	}
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		name, choice, accept, want string
	}{
		{"nothing", "", "", "en"},
		{"browser German", "", "de-DE,de;q=0.9,en;q=0.8", "de"},
		{"browser French Canada", "", "fr-CA", "fr"},
		{"weights", "", "en;q=0.2, fr;q=0.9", "fr"},
		{"unknown language", "", "ja-JP", "en"},
		{"own choice wins", "fr", "de-DE", "fr"},
		{"unknown choice ignored", "xx", "de", "de"},
		{"garbage header", "", ";;;q=a,,=", "en"},
		{"huge header", "", string(make([]byte, 5000)), "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Pick(tc.choice, tc.accept); got != tc.want {
				t.Errorf("Pick(%q, %q) = %q, want %q", tc.choice, tc.accept, got, tc.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	if got := Get("de").Format("home_hello", "name", "Zoë"); got != "Hallo, Zoë" {
		t.Errorf("Format = %q", got)
	}
	if got := Get("xx").T("log_in"); got != "Log in" {
		t.Errorf("unknown language: %q", got)
	}
	if got := Get("en").T("no_such_key"); got != "no_such_key" {
		t.Errorf("missing key: %q", got)
	}
}
