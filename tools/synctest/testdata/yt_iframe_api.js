// A stand-in for https://www.youtube.com/iframe_api, served by the synctest
// browser tests through youtube.iframe_api_url. It implements the part of
// YT.Player the room page uses and behaves like the real player where that
// matters to synchronized playback:
//
//   - the media clock advances with performance.now() at the current rate
//     while the state is PLAYING, and stands still otherwise;
//   - playVideo() goes through BUFFERING to PLAYING after a start delay;
//     seekTo() while playing goes through BUFFERING to PLAYING after a seek
//     delay; getCurrentTime() reports the target at once, as YouTube does;
//   - seekTo() on an unstarted or cued player starts playing it, as the
//     documentation of the real API says;
//   - setPlaybackRate() only takes the rates getAvailablePlaybackRates()
//     lists (0.25 steps from 0.25 to 2) and rounds others to the nearest;
//   - an unstarted player (the state after onReady) reports -1;
//   - events: onReady, onStateChange, via the constructor's events and via
//     addEventListener.
//
// window.__ytStandIn lists the players, for the tests.
(() => {
  const UNSTARTED = -1, ENDED = 0, PLAYING = 1, PAUSED = 2, BUFFERING = 3, CUED = 5;
  const RATES = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
  const START_DELAY_MS = 60; // playVideo() until the clock moves
  const SEEK_DELAY_MS = 120; // seekTo() while playing until the clock moves again
  const DURATION = 600;
  const players = (window.__ytStandIn = []);

  function Player(el, opts) {
    opts = opts || {};
    const holder = typeof el === 'string' ? document.getElementById(el) : el;
    const frame = document.createElement('div');
    frame.className = 'yt-standin';
    frame.dataset.videoId = opts.videoId || '';
    holder.replaceWith(frame);
    const vars = opts.playerVars || {};
    const listeners = { onReady: [], onStateChange: [] };
    for (const name of Object.keys(listeners)) {
      if (opts.events && typeof opts.events[name] === 'function') listeners[name].push(opts.events[name]);
    }
    let state = UNSTARTED;
    let base = Number(vars.start) || 0; // position when the clock last (re)started or stopped
    let anchor = 0; // performance.now() at which base applied, while PLAYING
    let rate = 1;
    let timer = 0;
    let destroyed = false;
    const self = this;

    const now = () => performance.now();
    const position = () => {
      if (state !== PLAYING) return base;
      const p = base + ((now() - anchor) / 1000) * rate;
      return Math.min(p, DURATION);
    };
    const fire = (name, data) => {
      for (const fn of listeners[name].slice()) {
        // The real API calls listeners from its own tasks.
        setTimeout(() => !destroyed && fn({ target: self, data }), 0);
      }
    };
    const setState = (st) => {
      if (st === state) return;
      if (state === PLAYING) base = position();
      state = st;
      if (st === PLAYING) anchor = now();
      frame.dataset.state = String(st);
      fire('onStateChange', st);
    };
    // goPlaying moves to BUFFERING now and to PLAYING after delay ms.
    const goPlaying = (delay) => {
      clearTimeout(timer);
      setState(BUFFERING);
      timer = setTimeout(() => {
        timer = 0;
        if (destroyed || state !== BUFFERING) return;
        setState(PLAYING);
        endTimer();
      }, delay);
    };
    const endTimer = () => {
      clearTimeout(timer);
      timer = 0;
      if (state !== PLAYING) return;
      const left = ((DURATION - position()) / rate) * 1000;
      timer = setTimeout(() => {
        timer = 0;
        if (state !== PLAYING) return;
        base = DURATION;
        state = ENDED;
        frame.dataset.state = String(ENDED);
        fire('onStateChange', ENDED);
      }, Math.max(0, left));
    };

    this.getIframe = () => frame;
    this.getCurrentTime = () => position();
    this.getDuration = () => DURATION;
    this.getPlayerState = () => state;
    this.getPlaybackRate = () => rate;
    this.getAvailablePlaybackRates = () => RATES.slice();
    this.playVideo = () => {
      if (state === PLAYING || state === BUFFERING) return;
      if (state === ENDED) base = 0;
      goPlaying(START_DELAY_MS);
    };
    this.pauseVideo = () => {
      if (state === PAUSED) return;
      clearTimeout(timer);
      timer = 0;
      setState(PAUSED);
    };
    this.seekTo = (seconds) => {
      const to = Math.max(0, Math.min(Number(seconds) || 0, DURATION));
      if (state === PAUSED) {
        base = to;
        return;
      }
      // Playing, buffering, unstarted, cued or ended: the player plays from
      // the new position once it has it.
      clearTimeout(timer);
      if (state === PLAYING) base = position();
      state = state === PLAYING ? BUFFERING : state;
      base = to;
      if (state === BUFFERING) {
        frame.dataset.state = String(BUFFERING);
        fire('onStateChange', BUFFERING);
        timer = setTimeout(() => {
          timer = 0;
          if (destroyed || state !== BUFFERING) return;
          setState(PLAYING);
          endTimer();
        }, SEEK_DELAY_MS);
      } else {
        goPlaying(SEEK_DELAY_MS);
      }
    };
    this.setPlaybackRate = (r) => {
      let best = RATES[0];
      for (const x of RATES) if (Math.abs(x - r) < Math.abs(best - r)) best = x;
      if (best === rate) return;
      if (state === PLAYING) {
        base = position();
        anchor = now();
      }
      rate = best;
      endTimer();
    };
    this.addEventListener = (name, fn) => {
      if (listeners[name] && typeof fn === 'function') listeners[name].push(fn);
    };
    this.removeEventListener = (name, fn) => {
      if (listeners[name]) listeners[name] = listeners[name].filter((x) => x !== fn);
    };
    this.mute = () => {};
    this.unMute = () => {};
    this.isMuted = () => false;
    this.destroy = () => {
      destroyed = true;
      clearTimeout(timer);
      frame.remove();
      const i = players.indexOf(self);
      if (i >= 0) players.splice(i, 1);
    };
    players.push(this);
    setTimeout(() => {
      if (destroyed) return;
      frame.dataset.state = String(state);
      fire('onReady');
    }, 30);
  }

  window.YT = {
    PlayerState: { UNSTARTED, ENDED, PLAYING, PAUSED, BUFFERING, CUED },
    Player,
  };
  if (typeof window.onYouTubeIframeAPIReady === 'function') window.onYouTubeIframeAPIReady();
})();
