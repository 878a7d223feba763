// ESLint for the browser modules in embed/static/js (no build step: plain
// ES modules as the browser runs them). The vendored modules are checked by
// their own projects.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["**/vendor/**", "tools/**"] },
  js.configs.recommended,
  {
    files: ["embed/static/js/**/*.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: { ...globals.browser } },
    rules: {
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      "no-implicit-globals": "error",
      "no-restricted-globals": ["error", "name", "length", "event"],
      "no-restricted-properties": ["error", { object: "window", property: "watchpartySync", message: "no test hooks on window" }],
      "no-sequences": "error",
      "no-var": "error",
      "prefer-const": "error",
      eqeqeq: ["error", "always"],
    },
  },
];
