import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import reactRefresh from "eslint-plugin-react-refresh";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist", "node_modules", "src/api/schema.d.ts"] },
  {
    extends: [js.configs.recommended, ...tseslint.configs.strict],
    files: ["**/*.{ts,tsx}"],
    languageOptions: { ecmaVersion: 2022, globals: globals.browser },
    plugins: { "react-hooks": reactHooks, "react-refresh": reactRefresh },
    rules: {
      ...reactHooks.configs.recommended.rules,
      "react-refresh/only-export-components": ["warn", { allowConstantExport: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // Every REST call goes through the query/mutation layer (src/queries): nowhere else may a
    // module call the API client or the session's log-in and log-out.
    files: ["src/**/*.{ts,tsx}"],
    ignores: ["src/queries/**", "src/auth/**", "src/api/**", "src/test/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/api/http"], importNames: ["unwrap", "createApi"], message: "Call the API through src/queries." }] }],
      "no-restricted-syntax": [
        "error",
        {
          selector: "MemberExpression[object.name='session'][property.name=/^(api|login|logout)$/]",
          message: "Call the API through src/queries (a query or mutation of the layer).",
        },
      ],
    },
  },
  {
    files: ["scripts/**/*.mjs"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
);
