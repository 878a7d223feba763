// i18n.js gives the page's strings in its language. The server puts the
// catalogue of the language it chose (the user's choice, else the browser's
// Accept-Language) in the page as a JSON data block (id "i18n"); every string
// the scripts show comes from there.

// The catalogue is read when the first string is wanted, not when this
// module is evaluated: the room's modules may run before the end of the page,
// where the block is, has been parsed.
let catalogue = null;
function strings() {
  if (catalogue) return catalogue;
  const block = document.getElementById("i18n");
  if (!block) return {}; // not parsed yet: read again next time
  try {
    catalogue = JSON.parse(block.textContent);
  } catch {
    catalogue = {};
  }
  return catalogue;
}

/** The page's language (BCP 47). */
export const lang = document.documentElement.lang || "en";

/** Returns the string for key with {name} placeholders filled from vars. */
export function t(key, vars) {
  const c = strings();
  let s = Object.hasOwn(c, key) ? c[key] : key;
  if (vars) {
    for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  }
  return s;
}

/** Whether the catalogue has key. */
export function has(key) {
  return Object.hasOwn(strings(), key);
}

/** Chooses between the "_one" and "_other" forms of key for n. */
export function plural(key, n, vars = {}) {
  return t(`${key}_${pluralForm(n)}`, { n, ...vars });
}

// The plural forms and clock times of the catalogues' languages are worked
// out here rather than by Intl: the first Intl object a page makes loads the
// locale data, which takes 70-150 ms of the main thread in a new tab, more
// than all the rest of the room's start-up. Other languages use Intl. A
// browser test keeps these equal to Intl's answers.
const ONE = { en: (n) => n === 1, de: (n) => n === 1, fr: (n) => n === 0 || n === 1 };
const TWELVE_HOURS = { en: true, de: false, fr: false };
const intl = {};

/** The plural category, "one" or "other", of the whole number n in language l. */
export function pluralForm(n, l = lang) {
  if (Object.hasOwn(ONE, l) && Number.isInteger(n)) return ONE[l](n) ? "one" : "other";
  intl[`p${l}`] ??= new Intl.PluralRules(l);
  return intl[`p${l}`].select(n) === "one" ? "one" : "other";
}

/** The time of day of date as a clock shows it in language l (hours and minutes). */
export function timeOfDay(date, l = lang) {
  if (!Object.hasOwn(TWELVE_HOURS, l)) {
    intl[`t${l}`] ??= new Intl.DateTimeFormat(l, { hour: "2-digit", minute: "2-digit" });
    return intl[`t${l}`].format(date);
  }
  const two = (x) => String(x).padStart(2, "0");
  const h = date.getHours();
  const m = two(date.getMinutes());
  return TWELVE_HOURS[l] ? `${two(h % 12 || 12)}:${m} ${h < 12 ? "AM" : "PM"}` : `${two(h)}:${m}`;
}
