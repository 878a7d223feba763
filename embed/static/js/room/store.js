// store.js: the room's one state store and its one render path. Every change
// goes through update(); views registered with view() run once per batch of
// changes (in a microtask, so before the next paint) and read what they need
// from the state. Each slice has a revision number (state.rev) so a view can
// tell cheaply whether its part changed.

export function createStore(state) {
  const views = [];
  let queued = false;
  const flush = () => {
    queued = false;
    for (const v of views) v(state);
  };
  const queue = () => {
    if (!queued) {
      queued = true;
      queueMicrotask(flush);
    }
  };
  return {
    state,
    /** Applies fn to the state and bumps the named slices' revisions. */
    update(slices, fn) {
      if (fn) fn(state);
      for (const s of [].concat(slices || [])) state.rev[s] = (state.rev[s] || 0) + 1;
      queue();
    },
    /**
     * Registers a render function; it runs with the next batch (so the views
     * a page installs one after another render together, in one pass that
     * writes the DOM without reading its layout in between) and after every
     * change.
     */
    view(fn) {
      views.push(fn);
      queue();
    },
  };
}

/** Remembers revisions: changed(state, "chat", "members") is true when either moved since the last call. */
export function watcher() {
  const seen = {};
  return (state, ...slices) => {
    let moved = false;
    for (const s of slices) {
      const r = state.rev[s] || 0;
      if (seen[s] !== r) {
        seen[s] = r;
        moved = true;
      }
    }
    return moved;
  };
}
