package room

import "watchparty/engine/media"

// VideoFromLink reads a pasted link with media.ParseLink. Its errors name
// what is accepted, and are shown to the member as they are.
func VideoFromLink(raw string) (Video, error) {
	src, err := media.ParseLink(raw)
	if err != nil {
		return Video{}, err
	}
	return Video{Kind: string(src.Kind), URL: src.URL, ID: src.VideoID, Start: src.Start, Title: src.Title}, nil
}
