// i18n.js gives the page's strings in its language. The server puts the
// catalogue of the language it chose (the user's choice, else the browser's
// Accept-Language) in the page as a JSON data block (id "i18n"); every string
// the scripts show comes from there.

let catalogue = {};
const block = document.getElementById("i18n");
if (block) {
  try {
    catalogue = JSON.parse(block.textContent);
  } catch {
    catalogue = {};
  }
}

/** The page's language (BCP 47). */
export const lang = document.documentElement.lang || "en";

/** Returns the string for key with {name} placeholders filled from vars. */
export function t(key, vars) {
  let s = Object.hasOwn(catalogue, key) ? catalogue[key] : key;
  if (vars) {
    for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  }
  return s;
}

/** Whether the catalogue has key. */
export function has(key) {
  return Object.hasOwn(catalogue, key);
}

/** Chooses between the "_one" and "_other" forms of key for n. */
export function plural(key, n, vars = {}) {
  const form = new Intl.PluralRules(lang).select(n) === "one" ? "one" : "other";
  return t(`${key}_${form}`, { n, ...vars });
}
