package room

// VideoLeft tells Options.VideoLeft that the room leaves the video it
// plays (another video starts, or the room's actor stops): the transcoder
// can stop what it made for the room, and the library can remember where
// the room was.
func (a *actor) videoLeft() {
	fn := a.s.opt.VideoLeft
	st := a.sync.state
	if fn == nil || st.Source == "" {
		return
	}
	fn(a.code, st.Source, st.Kind, st.PositionAt(a.now().UnixMilli()), st.Duration)
}
