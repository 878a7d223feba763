// player.js shows the room's video: YouTube through the IFrame Player API
// (its script URL comes from the server's configuration), direct files in an
// HTML5 <video>. It knows nothing about the websocket; room.js tells it what
// to load, and the sync loop drives it through play/pause/seek/rate.

let ytLoading = null;

// loadYouTubeAPI loads the IFrame Player API script once.
export function loadYouTubeAPI(src) {
  if (window.YT && window.YT.Player) return Promise.resolve(window.YT);
  if (!ytLoading) {
    ytLoading = new Promise((resolve, reject) => {
      const prev = window.onYouTubeIframeAPIReady;
      window.onYouTubeIframeAPIReady = () => {
        if (typeof prev === 'function') prev();
        resolve(window.YT);
      };
      const s = document.createElement('script');
      s.src = src;
      s.async = true;
      s.onerror = () => {
        ytLoading = null;
        reject(new Error('The YouTube player could not be loaded.'));
      };
      document.head.appendChild(s);
    });
  }
  return ytLoading;
}

export class Player extends EventTarget {
  constructor(el, { youtubeAPI }) {
    super();
    this.el = el;
    this.api = youtubeAPI;
    this.video = null; // what is loaded: {kind, url, id, start, title}
    this.key = '';
    this.html = null; // the <video> element
    this.yt = null; // the YT.Player
    this.gen = 0;
  }

  // load switches to video (null shows the empty state). Loading what is
  // already loaded does nothing.
  load(video) {
    const key = video ? `${video.kind} ${video.url}` : '';
    if (key === this.key) return;
    this.key = key;
    this.destroy();
    this.video = video;
    this.el.dataset.kind = video ? video.kind : '';
    this.el.dataset.src = video ? video.url : '';
    delete this.el.dataset.ready;
    if (!video) {
      const p = document.createElement('p');
      p.className = 'player-empty';
      p.textContent = 'Nobody has shared a video yet. Paste a link below.';
      this.el.replaceChildren(p);
    } else if (video.kind === 'youtube') {
      this.loadYouTube(video);
    } else {
      this.loadFile(video);
    }
    this.dispatchEvent(new CustomEvent('load', { detail: video }));
  }

  loadFile(v) {
    const el = document.createElement('video');
    el.controls = true;
    el.playsInline = true;
    el.preload = 'auto';
    el.src = this.fileURL ? this.fileURL(v) : v.url;
    if (v.title) el.setAttribute('aria-label', v.title);
    el.addEventListener('loadedmetadata', () => {
      if (v.start) el.currentTime = v.start;
      this.el.dataset.ready = '1';
      this.dispatchEvent(new Event('ready'));
    }, { once: true });
    el.addEventListener('error', () => this.failed('This video could not be played (is the link right, and the format supported?).'));
    this.el.replaceChildren(el);
    this.html = el;
  }

  async loadYouTube(v) {
    const gen = ++this.gen;
    let YT;
    try {
      YT = await loadYouTubeAPI(this.api);
    } catch (e) {
      if (gen === this.gen) this.failed(e.message);
      return;
    }
    if (gen !== this.gen) return;
    const holder = document.createElement('div');
    this.el.replaceChildren(holder);
    this.yt = new YT.Player(holder, {
      videoId: v.id,
      width: '100%',
      height: '100%',
      playerVars: { start: Math.floor(v.start || 0), autoplay: 0, playsinline: 1, rel: 0 },
      events: {
        onReady: () => {
          if (gen !== this.gen) return;
          this.el.dataset.ready = '1';
          this.dispatchEvent(new Event('ready'));
        },
        onError: () => this.failed('YouTube could not play this video.'),
      },
    });
  }

  failed(text) {
    this.dispatchEvent(new CustomEvent('failed', { detail: text }));
  }

  destroy() {
    this.gen++;
    if (this.yt && typeof this.yt.destroy === 'function') this.yt.destroy();
    if (this.html) {
      this.html.pause();
      this.html.removeAttribute('src');
      this.html.load();
    }
    this.yt = null;
    this.html = null;
  }

  // Controls for the sync loop.
  currentTime() {
    if (this.html) return this.html.currentTime;
    if (this.yt && this.yt.getCurrentTime) return this.yt.getCurrentTime();
    return 0;
  }

  play() {
    if (this.html) return this.html.play();
    if (this.yt && this.yt.playVideo) this.yt.playVideo();
    return Promise.resolve();
  }

  pause() {
    if (this.html) this.html.pause();
    else if (this.yt && this.yt.pauseVideo) this.yt.pauseVideo();
  }

  seek(seconds) {
    if (this.html) this.html.currentTime = seconds;
    else if (this.yt && this.yt.seekTo) this.yt.seekTo(seconds, true);
  }

  setRate(rate) {
    if (this.html) this.html.playbackRate = rate;
    else if (this.yt && this.yt.setPlaybackRate) this.yt.setPlaybackRate(rate);
  }
}
