// The room protocol's catalogue, generated from engine/room/proto and engine/rtc/signal.go
// by `go generate ./engine/room/proto`: do not edit. See docs/protocol.md.

/** Protocol version, sent as v in hello. */
export const VERSION = 1;

export const MAX_MESSAGE_SIZE = 8192;
export const MAX_RTC_MESSAGE_SIZE = 65536;
export const MAX_LOADED_RANGES = 8;

/** Message types (the type field). */
export const T = Object.freeze({
  CHAT: "chat", // a chat line
  TYPING: "typing", // started or stopped typing
  PRESENCE: "presence", // online or away
  REACT: "react", // a reaction on a chat line
  VIDEO: "video", // switch the video
  PING: "ping", // clock synchronisation, answered with pong
  STREAM_START: "stream_start", // start the room's frame stream
  STREAM_STOP: "stream_stop", // stop it
  MEMBERS: "members", // the next page of the member list
  HISTORY: "history", // older chat lines
  PLAY: "play", // playback commands
  PAUSE: "pause",
  SEEK: "seek",
  RATE: "rate",
  BUFFERING: "buffering", // player reports
  DRIFT: "drift",
  DURATION: "duration",
  ENDED: "ended",
  QUEUE_ADD: "queue_add", // queue commands
  QUEUE_REMOVE: "queue_remove",
  QUEUE_MOVE: "queue_move",
  QUEUE_CLEAR: "queue_clear",
  QUEUE_NEXT: "queue_next",
  RTC: "rtc", // WebRTC signalling, both ways
  HELLO: "hello",
  MEMBER: "member",
  MEMBER_REMOVED: "member_removed",
  ROOM: "room",
  PONG: "pong",
  STREAM: "stream",
  PLAYBACK: "playback",
  SYNC_MEMBERS: "sync_members",
  QUEUE_CHANGE: "queue_change",
  SHARE: "share",
  ERROR: "error",
  CLOSED: "closed",
});

/** Error codes of the error message. */
export const CODE = Object.freeze({
  BAD_MESSAGE: "bad_message",
  TOO_LARGE: "too_large",
  UNKNOWN_TYPE: "unknown_type",
  RATE_LIMITED: "rate_limited",
  TOO_LONG: "too_long",
  EMPTY: "empty",
  BAD_LINK: "bad_link",
  FORBIDDEN: "forbidden",
  NOT_FOUND: "not_found",
  UNAVAILABLE: "unavailable",
  ROOM_FULL: "room_full",
  NOT_MEMBER: "not_member",
  TOO_MANY_CONNECTIONS: "too_many_connections",
  NO_VIDEO: "no_video", // a playback command before any video
  BAD_COMMAND: "bad_command", // a playback or queue command out of range
  BAD_SOURCE: "bad_source", // the stream source was refused or could not be opened
  STREAM_BUSY: "stream_busy", // the room already has a stream
  STREAM_LIMIT: "stream_limit", // the server or the member runs as many streams as allowed
  NO_STREAM: "no_stream", // stream_stop without a stream
  WEBRTC_DISABLED: "webrtc_disabled",
  NOT_JOINED: "not_joined", // an rtc message before rtc join
});

/** Reasons of the closed message. */
export const REASON = Object.freeze({
  REMOVED: "removed", // the member left the room (from another tab)
  KICKED: "kicked",
  LOGGED_OUT: "logged_out", // the session the connection came with ended
  DELETED: "deleted",
  TOO_LARGE: "too_large",
  SHUTDOWN: "shutdown",
  FLOOD: "flood",
});

/** Presence of a member. */
export const PRESENCE = Object.freeze({
  ONLINE: "online",
  AWAY: "away",
  OFFLINE: "offline",
});

/** Websocket close codes; 4000-4004 mean stop, anything else reconnect. */
export const CLOSE = Object.freeze({
  GOING_AWAY: 1001, // the server is shutting down
  POLICY: 1008, // refused at connect, or flood
  TOO_BIG: 1009, // a message over the size limit
  REMOVED: 4000,
  KICKED: 4001,
  LOGGED_OUT: 4003,
  DELETED: 4004,
});

/** WebRTC signal types (the signal's type field in rtc messages). */
export const RTC_SIGNAL = Object.freeze({
  JOIN: "join",
  OFFER: "offer",
  ANSWER: "answer",
  CANDIDATE: "candidate",
  PUBLISH: "publish",
  UNPUBLISH: "unpublish",
  LEAVE: "leave",
  STATE: "state",
  ERROR: "error",
  CLOSED: "closed",
});

/** WebRTC track sources. */
export const RTC_SOURCE = Object.freeze({
  SCREEN: "screen",
  SCREEN_AUDIO: "screen_audio",
  CAMERA: "camera",
  MICROPHONE: "microphone",
});

/** Error codes of a WebRTC error signal. */
export const RTC_CODE = Object.freeze({
  NOT_ALLOWED: "not_allowed",
  TOO_MANY_PEERS: "too_many_peers",
  TOO_MANY_TRACKS: "too_many_tracks",
  BAD_SIGNAL: "bad_signal",
  FAILED: "failed",
});
