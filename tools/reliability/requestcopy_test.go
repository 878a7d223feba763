package reliability

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"watchparty/engine/apptest"
)

// TestRoomKeepsItsNameAndSettings: a room's name and settings come from
// form values and live on in the room after the request. Fasthttp reuses
// request buffers, so a value that was not copied turns into bytes of later
// requests (a room named "room 0 renamed 38" came back as "owner0 renamed
// 38" in the crash test).
func TestRoomKeepsItsNameAndSettings(t *testing.T) {
	srv := apptest.StartServer(t, nil)
	ann := srv.SignUp(t, "Ann")
	code := createRoom(t, ann.Client, "first")
	if resp, body := ann.Client.PostForm(t, "/r/"+code+"/rename", url.Values{"name": {"the kept name"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rename: %s %s", resp.Status, body)
	}
	if resp, body := ann.Client.PostForm(t, "/r/"+code+"/settings", url.Values{"control": {"moderators"}, "change_video": {"owner"}, "manage_queue": {"everyone"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %s %s", resp.Status, body)
	}
	// Other requests overwrite the buffers the values were read from.
	other := createRoom(t, ann.Client, "other")
	for i := range 30 {
		ann.Client.PostForm(t, "/r/"+other+"/rename", url.Values{"name": {fmt.Sprintf("%s %d", strings.Repeat("overwrite", 4), i)}})
		ann.Client.PostForm(t, "/r/"+other+"/settings", url.Values{"control": {"everyone"}, "change_video": {"everyone"}, "manage_queue": {"owner"}})
	}
	_, hello := mustDial(t, srv.URL, code, ann.Client.Cookie(apptest.SessionCookie))
	room := hello["room"].(map[string]any)
	set := room["settings"].(map[string]any)
	if room["name"] != "the kept name" || set["control"] != "moderators" || set["change_video"] != "owner" || set["manage_queue"] != "everyone" {
		t.Fatalf("the room changed under later requests: name %q, settings %v", room["name"], set)
	}
}
