// tracks.js: each member's own audio track and quality for a library video
// the server converts to HLS. Switching changes only what this member's
// player fetches; the room's position is untouched, so the member stays in
// sync.

import { t } from "../i18n.js";

export function installTracks(ctx) {
  const { player, toast } = ctx;
  const audio = document.getElementById("audio-track");
  const audioWrap = document.getElementById("audio-wrap");
  const quality = document.getElementById("quality");
  const qualityWrap = document.getElementById("quality-wrap");

  audio.addEventListener("change", () => {
    const i = Number(audio.value);
    player.setAudio(i);
    const tr = player.audioTracks()[i];
    if (tr) toast(t("audio_on", { label: tr.label }));
  });
  quality.addEventListener("change", () => {
    const i = Number(quality.value);
    player.setLevel(i);
    toast(t("quality_on", { label: i < 0 ? t("quality_auto") : player.levels()[i]?.label || "" }));
  });

  function render() {
    const tracks = player.audioTracks();
    audioWrap.hidden = tracks.length < 2;
    audio.replaceChildren(...tracks.map((x) => new Option(x.label, String(x.index))));
    const on = tracks.find((x) => x.on);
    if (on) audio.value = String(on.index);
    const levels = player.levels();
    qualityWrap.hidden = levels.length < 2;
    quality.replaceChildren(
      new Option(t("quality_auto"), "-1"),
      ...levels.map((x) => new Option(x.label, String(x.index))),
    );
    quality.value = String(player.level());
  }
  player.addEventListener("tracks", render);
  player.addEventListener("load", render);
}
