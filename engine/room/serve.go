package room

import (
	"errors"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"

	"watchparty/engine/metrics"
)

// Serve runs one member's websocket connection until it closes: the
// calling goroutine is the reader; a writer goroutine runs only while there
// is something to send. The caller must have checked the session and the
// origin; Serve checks membership again (a kick may race the upgrade).
func (s *Service) Serve(code string, u User, conn Conn) error {
	metrics.Connections.Inc()
	defer metrics.Connections.Dec()
	a, err := s.acquire(code)
	if err != nil {
		refuse(conn, CodeUnavailable, "the server is shutting down", websocket.CloseGoingAway)
		return err
	}
	defer s.release(a)
	c := &client{conn: conn, user: u, room: a, owner: s}
	s.conns.add(c)
	defer s.conns.remove(c)
	done := make(chan error, 1)
	if !a.post(msg{op: opJoin, c: c, done: done}) {
		refuse(conn, CodeUnavailable, "the server is shutting down", websocket.CloseGoingAway)
		return ErrClosed
	}
	select {
	case err = <-done:
	case <-s.quit:
		err = ErrClosed
	}
	if err != nil {
		code := CodeNotMember
		switch {
		case errors.Is(err, ErrNotFound):
			code = CodeNotFound
		case errors.Is(err, ErrRoomFull):
			code = CodeRoomFull
		case errors.Is(err, ErrTooManyTabs):
			code = CodeTooManyConn
		case errors.Is(err, ErrClosed):
			code = CodeUnavailable
		}
		refuse(conn, code, err.Error(), websocket.ClosePolicyViolation)
		return err
	}

	readTimeout := 2*s.opt.PingInterval + s.opt.readGrace
	extended := time.Now()
	_ = conn.SetReadDeadline(extended.Add(readTimeout))
	conn.SetPongHandler(func(string) error {
		extended = time.Now()
		return conn.SetReadDeadline(extended.Add(readTimeout))
	})
	maxRead := MaxMessageSize
	if s.opt.RTC != nil {
		maxRead = MaxRTCMessageSize // only rtc messages may use it (below)
	}
	var rc rtcConn
	var budget connBudget
read:
	for {
		data, err := readMessage(conn, maxRead)
		if errors.Is(err, errTooLarge) {
			c.finish(errorMsg(CodeTooLarge, "a message may be at most 8192 bytes; closing the connection", "", 0),
				websocket.CloseMessageTooBig, ReasonTooLarge)
			break
		}
		if err != nil {
			break
		}
		if now := time.Now(); now.Sub(extended) > time.Second {
			extended = now
			_ = conn.SetReadDeadline(now.Add(readTimeout))
		}
		metrics.MessagesIn.Inc()
		cm := new(clientMsg)
		err = decodeClientMessage(data, cm)
		if err == nil && !utf8.Valid(data) {
			err = errBadText // in a field the decoder skips
		}
		if err == nil && !commonType(cm.Type) {
			cm.Raw = append([]byte(nil), data...)
		}
		big := len(data) > MaxMessageSize
		readBufs.put(data)
		if big && (err != nil || cm.Type != "rtc") {
			c.finish(errorMsg(CodeTooLarge, "a message may be at most 8192 bytes; closing the connection", "", 0),
				websocket.CloseMessageTooBig, ReasonTooLarge)
			break
		}
		if err != nil {
			c.send(errorMsg(CodeBadMessage, err.Error(), cm.Ref, 0))
			continue
		}
		cl := classOf(cm.Type)
		switch v, wait := budget.check(time.Now(), cl, s.budget(cl)); v {
		case answerLimited:
			c.send(errorMsg(CodeRateLimited, "slow down: too many messages of this kind; try again in a moment", cm.Ref, wait.Milliseconds()+1))
			continue
		case drop:
			continue
		case flood:
			s.log.Info("closed a connection that kept sending after being told to slow down", "user", u.ID, "room", code)
			c.finish(closedMsg(ReasonFlood, "Too many messages: this connection was closed."), websocket.ClosePolicyViolation, ReasonFlood)
			break read
		}
		if cm.Type == "rtc" {
			if !s.rtcMessage(a, c, &rc, cm) {
				break
			}
			continue
		}
		if cm.Type == "ping" {
			c.send(appendPong(make([]byte, 0, 48), cm.T, s.opt.Now().UnixMilli()))
			continue
		}
		if !a.post(msg{op: opClient, c: c, m: cm}) {
			break
		}
	}
	s.rtcGone(a, c, &rc)
	a.post(msg{op: opLeave, c: c})
	c.shutdown()
	return nil
}

func commonType(t string) bool {
	switch t {
	case "chat", "typing", "ping", "presence", "react", "video":
		return true
	}
	return false
}

// refuse answers a connection that may not join with an error and closes it.
func refuse(conn Conn, code, text string, closeCode int) {
	deadline := time.Now().Add(time.Second)
	_ = conn.SetWriteDeadline(deadline)
	_ = conn.WriteMessage(websocket.TextMessage, errorMsg(code, text, "", 0))
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeCode, code), deadline)
	_ = conn.Close()
}
