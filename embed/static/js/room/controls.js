// controls.js: one control bar for every source (YouTube and <video>/HLS
// alike) and the keyboard shortcuts. Shared controls (play, pause, seek,
// speed) go to the room through the sync engine; a member the room's
// settings do not allow sees them disabled, with the reason on hover and on
// tap. Local controls (volume, mute, captions, picture-in-picture,
// fullscreen, theatre) are every member's own.

import { t } from "../i18n.js";
import { clock, setIcon, typingInto } from "./dom.js";
import { watcher } from "./store.js";
import { T } from "../protocol.js";

const RATES = [0.5, 0.75, 1, 1.25, 1.5, 2];
const $ = (id) => document.getElementById(id);

export function installControls(ctx) {
  const { root, store, state, sync, player, can, levelOf, toast } = ctx;
  const b = {
    play: $("play"),
    back: $("back10"),
    fwd: $("fwd10"),
    seek: $("seek"),
    mute: $("mute"),
    volume: $("volume"),
    rate: $("playback-rate"),
    captions: $("captions"),
    pip: $("pip"),
    theatre: $("theatre"),
    full: $("fullscreen"),
  };
  const time = $("time");
  const played = $("seek-played");
  const buffered = $("seek-buffered");
  const tip = $("seek-tip");
  const seekBox = $("seek-box");
  let pending = null; // {playing, until}: what this member just asked for
  let dragging = false;

  const reason = () => t(`reason_control_${levelOf("control")}`);
  const mayControl = () => can("control");
  const hasMedia = () => !!player.video && !state.ended;

  function refuse() {
    toast(reason());
  }

  // ---- shared ----

  const playing = () => (pending && performance.now() < pending.until ? pending.playing : !!sync.state?.playing);

  function togglePlay() {
    if (!hasMedia()) return;
    if (!mayControl()) return refuse();
    const want = !playing();
    pending = { playing: want, until: performance.now() + 2500 };
    sync.command(want ? T.PLAY : T.PAUSE);
    renderPlay();
  }

  function seekTo(sec) {
    if (!hasMedia()) return;
    if (!mayControl()) return refuse();
    const d = duration();
    sync.command(T.SEEK, Math.max(0, d > 0 ? Math.min(d, sec) : sec));
  }
  const seekBy = (delta) => seekTo(sync.expected() + delta);

  b.play.addEventListener("click", togglePlay);
  $("screen-hit").addEventListener("click", togglePlay);
  $("screen-hit").addEventListener("dblclick", () => toggleFullscreen());
  b.back.addEventListener("click", () => seekBy(-10));
  b.fwd.addEventListener("click", () => seekBy(10));

  b.seek.addEventListener("input", () => {
    dragging = true;
    showTime(Number(b.seek.value));
  });
  b.seek.addEventListener("change", () => {
    dragging = false;
    seekTo(Number(b.seek.value));
  });
  b.seek.addEventListener("pointerdown", () => {
    if (!mayControl()) refuse();
  });
  seekBox.addEventListener("pointermove", (e) => {
    const d = duration();
    if (!d) return;
    const r = seekBox.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    tip.hidden = false;
    tip.textContent = clock(f * d);
    tip.style.left = `${f * 100}%`;
  });
  seekBox.addEventListener("pointerleave", () => {
    tip.hidden = true;
  });

  for (const r of RATES) b.rate.append(new Option(`${r}×`, String(r)));
  b.rate.addEventListener("change", () => {
    const r = Number(b.rate.value);
    if (!mayControl()) {
      refuse();
      renderRate();
      return;
    }
    if (RATES.includes(r)) sync.command(T.RATE, r);
  });

  // ---- local ----

  const saved = (k, d) => {
    try {
      const v = localStorage.getItem(`wp.${k}`);
      return v === null ? d : JSON.parse(v);
    } catch {
      return d;
    }
  };
  const save = (k, v) => {
    try {
      localStorage.setItem(`wp.${k}`, JSON.stringify(v));
    } catch {
      /* private mode: not kept */
    }
  };
  player.setVolume(saved("volume", 1));
  player.setMuted(saved("muted", false));

  function toggleMute() {
    player.setMuted(!player.muted);
    save("muted", player.muted);
    renderLocal();
  }
  b.mute.addEventListener("click", toggleMute);
  b.volume.addEventListener("input", () => {
    player.setVolume(Number(b.volume.value));
    save("volume", player.volume);
    save("muted", player.muted);
    renderLocal();
  });
  function volumeBy(delta) {
    player.setVolume(player.volume + delta);
    save("volume", player.volume);
    renderLocal();
    toast(t("volume_at", { n: Math.round(player.volume * 100) }));
  }

  // Captions: the subtitles of library videos (files beside them and text
  // tracks inside them, which the player adds) are listed here; the track in
  // the browser's language is on by default, and each member may pick another.
  let trackChoice = null; // null: the default
  let lastTrack = 0;
  b.captions.addEventListener("change", () => {
    trackChoice = Number(b.captions.value);
    if (trackChoice >= 0) lastTrack = trackChoice;
    player.showTrack(trackChoice);
  });
  function toggleCaptions() {
    const list = player.tracks();
    if (!list.length) return;
    trackChoice = player.track >= 0 ? -1 : Math.min(lastTrack, list.length - 1);
    player.showTrack(trackChoice);
    renderCaptions();
    toast(trackChoice >= 0 ? t("captions_on", { label: list[trackChoice].label }) : t("captions_off"));
  }
  function defaultTrack(list) {
    const want = (navigator.languages || [navigator.language || "en"]).map((l) => l.toLowerCase());
    for (const l of want) {
      const hit = list.find((x) => x.lang && (x.lang.toLowerCase() === l || x.lang.toLowerCase() === l.split("-")[0]));
      if (hit) return hit.index;
    }
    return -1;
  }
  player.addEventListener("tracks", () => {
    const list = player.tracks();
    const i = trackChoice !== null && trackChoice < list.length ? trackChoice : defaultTrack(list);
    if (i >= 0) lastTrack = i;
    player.showTrack(i);
    renderCaptions();
  });
  player.addEventListener("load", () => {
    trackChoice = null;
  });
  b.pip.addEventListener("click", () => player.pip().catch((e) => toast(e.message)));

  b.theatre.addEventListener("click", () => toggleTheatre());
  function toggleTheatre() {
    store.update("ui", () => {
      state.ui.theatre = !state.ui.theatre;
      state.ui.drawer = false;
    });
  }
  b.full.addEventListener("click", () => toggleFullscreen());
  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (root.requestFullscreen) root.requestFullscreen().catch((e) => toast(e.message));
    else if (player.html?.webkitEnterFullscreen) player.html.webkitEnterFullscreen();
  }

  // ---- keyboard shortcuts ----

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (typingInto(e.target) || document.querySelector("dialog[open]")) return;
    const onButton =
      e.target instanceof HTMLButtonElement ||
      (e.target instanceof HTMLElement && e.target.getAttribute("role") === "tab");
    const onRange = e.target instanceof HTMLInputElement && e.target.type === "range";
    const k = e.key;
    let done = true;
    if ((k === " " && !onButton) || k === "k" || k === "K") togglePlay();
    else if (k === "j" || k === "J") seekBy(-10);
    else if (k === "l" || k === "L") seekBy(10);
    else if (k === "ArrowLeft" && !onRange && !onButton) seekBy(-5);
    else if (k === "ArrowRight" && !onRange && !onButton) seekBy(5);
    else if (k === "ArrowUp" && !onRange) volumeBy(0.05);
    else if (k === "ArrowDown" && !onRange) volumeBy(-0.05);
    else if (k === "f" || k === "F") toggleFullscreen();
    else if (k === "m" || k === "M") toggleMute();
    else if (k === "c" || k === "C") toggleCaptions();
    else if (k === "t" || k === "T") toggleTheatre();
    else done = false;
    if (done) e.preventDefault();
  });

  // ---- render ----

  function duration() {
    return sync.state?.duration > 0 ? sync.state.duration : player.duration();
  }

  function position() {
    if (!player.video) return 0;
    if (sync.state && (sync.adapter === null || !sync.state.playing)) return sync.expected();
    return player.currentTime();
  }

  function showTime(at) {
    const d = duration();
    time.textContent = `${clock(at)} / ${clock(d)}`;
    played.style.width = d > 0 ? `${Math.min(100, (at / d) * 100)}%` : "0%";
  }

  function renderTime() {
    const d = duration();
    const at = position();
    if (!dragging) {
      b.seek.max = String(d > 0 ? d : 0);
      b.seek.value = String(Math.min(at, d || 0));
      b.seek.setAttribute("aria-valuetext", t("seek_value", { at: clock(at), total: clock(d) }));
      showTime(at);
    }
    const be = player.bufferedEnd();
    buffered.style.width = d > 0 ? `${Math.min(100, (be / d) * 100)}%` : "0%";
  }

  function setShared(el, ok) {
    el.setAttribute("aria-disabled", String(!ok));
    if (!ok) el.title = reason();
    else if (el.dataset.title) el.title = el.dataset.title;
  }

  function renderPlay() {
    const on = playing();
    setIcon(b.play, on ? "pause" : "play");
    b.play.setAttribute("aria-label", on ? t("pause") : t("play"));
    b.play.dataset.title = `${on ? t("pause") : t("play")} (k)`;
    setShared(b.play, mayControl() && hasMedia());
  }

  function renderRate() {
    const r = sync.state?.rate > 0 ? sync.state.rate : 1;
    if (![...b.rate.options].some((o) => Number(o.value) === r)) b.rate.append(new Option(`${r}×`, String(r)));
    // Writing a select's value makes the browser work out its style at once:
    // only when it changes.
    if (b.rate.value !== String(r)) b.rate.value = String(r);
    const ok = mayControl() && hasMedia();
    b.rate.disabled = !ok;
    $("rate-wrap").title = ok ? t("speed") : reason();
  }

  let captionsShown = "";
  function renderCaptions() {
    const list = player.tracks();
    // The options are made again only when the tracks change.
    const key = JSON.stringify(list.map((x) => [x.index, x.label]));
    if (key !== captionsShown) {
      captionsShown = key;
      $("captions-wrap").hidden = list.length === 0;
      const opts = [
        new Option(t("captions_off_option"), "-1"),
        ...list.map((x) => new Option(x.label, String(x.index))),
      ];
      b.captions.replaceChildren(...opts);
    }
    if (b.captions.value !== String(player.track)) b.captions.value = String(player.track);
  }

  function renderLocal() {
    const silent = player.muted || player.volume === 0;
    setIcon(b.mute, silent ? "muted" : "volume");
    b.mute.setAttribute("aria-label", silent ? t("unmute") : t("mute"));
    b.mute.title = `${silent ? t("unmute") : t("mute")} (m)`;
    b.volume.value = String(player.muted ? 0 : player.volume);
    b.pip.hidden = !(player.html && document.pictureInPictureEnabled);
  }

  for (const el of [b.back, b.fwd]) el.dataset.title = el.title;
  const changed = watcher();
  store.view((s) => {
    if (!changed(s, "player", "room", "conn", "ui")) return;
    if (pending && sync.state && sync.state.playing === pending.playing) pending = null;
    renderPlay();
    for (const el of [b.back, b.fwd]) setShared(el, mayControl() && hasMedia());
    b.seek.disabled = !(mayControl() && hasMedia());
    $("seek-box").title = mayControl() ? "" : reason();
    renderRate();
    renderLocal();
    renderCaptions();
    renderTime();
    b.theatre.setAttribute("aria-pressed", String(s.ui.theatre));
    b.full.setAttribute("aria-pressed", String(s.ui.fullscreen));
    setIcon(b.full, s.ui.fullscreen ? "full-exit" : "full");
    b.full.setAttribute("aria-label", s.ui.fullscreen ? t("fullscreen_exit") : t("fullscreen"));
  });

  setInterval(() => {
    if (document.visibilityState !== "visible") return;
    renderTime();
    if (pending && performance.now() > pending.until) {
      pending = null;
      renderPlay();
    }
    if (!!sync.state?.playing !== (b.play.getAttribute("aria-label") === t("pause")) && !pending) renderPlay();
  }, 250);
}
