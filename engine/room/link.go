package room

import "watchparty/engine/media"

// VideoFromLink reads a pasted link with media.ParseLink. Its errors name
// what is accepted, and are shown to the member as they are.
func VideoFromLink(raw string) (Video, error) {
	src, err := media.ParseLink(raw)
	if err != nil {
		return Video{}, err
	}
	return VideoFromSource(src), nil
}

// VideoFromSource is the Video of a parsed link.
func VideoFromSource(src media.Source) Video {
	return Video{Kind: string(src.Kind), URL: src.URL, ID: src.VideoID, Start: src.Start, Title: src.Title}
}

// LinkParser reads links under a server's rules for direct links
// (links.allow_private_hosts). Hosts are judged by their form (addresses
// in every form a browser reads, local names); names are not looked up:
// the room would wait for DNS, and a browser resolves a name on its own
// anyway.
func LinkParser(allowPrivateHosts bool) func(string) (Video, error) {
	rules := media.LinkRules{AllowPrivateHosts: allowPrivateHosts}
	return func(raw string) (Video, error) {
		src, err := media.ParseLinkWith(raw, rules)
		if err != nil {
			return Video{}, err
		}
		return VideoFromSource(src), nil
	}
}
