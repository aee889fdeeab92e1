/** The dependency direction, and SQL staying in infra/, are enforced by `npm run lint`, not by convention. */
import { ESLint } from "eslint"
import { describe, expect, it } from "vitest"

const lint = async (filePath: string, code: string) => {
  const [result] = await new ESLint().lintText(code, { filePath })
  return (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message)
}

describe("dependency direction", () => {
  it("rejects infra, supervisors or src inside domain, and I/O modules", async () => {
    expect(await lint("domain/jobs/X.ts", 'import { JobStore } from "../../infra/jobs/JobStore.ts"\nexport const x = JobStore\n')).toHaveLength(1)
    expect(await lint("domain/jobs/X.ts", 'import { a } from "../../supervisors/Worker.ts"\nexport const x = a\n')).toHaveLength(1)
    expect(await lint("domain/jobs/X.ts", 'import pg from "pg"\nexport const x = pg\n')).toHaveLength(1)
    expect(await lint("domain/jobs/X.ts", 'import * as fs from "node:fs"\nexport const x = fs\n')).toHaveLength(1)
  })

  it("rejects upward imports from infra and supervisors", async () => {
    expect(await lint("infra/jobs/X.ts", 'import { a } from "../../supervisors/Worker.ts"\nexport const x = a\n')).toHaveLength(1)
    expect(await lint("supervisors/X.ts", 'import { a } from "../src/App.ts"\nexport const x = a\n')).toHaveLength(1)
  })

  it("allows the downward direction", async () => {
    expect(await lint("domain/jobs/X.ts", 'import * as Schema from "effect/Schema"\nimport { a } from "./JobState.ts"\nexport const x = [Schema, a]\n')).toEqual([])
    expect(await lint("infra/jobs/X.ts", 'import { a } from "../../domain/jobs/JobState.ts"\nexport const x = a\n')).toEqual([])
    expect(await lint("supervisors/X.ts", 'import { a } from "../infra/jobs/JobStore.ts"\nexport const x = a\n')).toEqual([])
    expect(await lint("src/X.ts", 'import { a } from "../supervisors/Worker.ts"\nexport const x = a\n')).toEqual([])
  })
})

describe("SQL stays in infra", () => {
  it("rejects @effect/sql and @effect/sql-pg in src and supervisors, type-only imports and re-exports included", async () => {
    expect(await lint("src/callbacks/X.ts", 'import { SqlClient } from "@effect/sql"\nexport const x = SqlClient\n')).toHaveLength(1)
    expect(await lint("src/X.ts", 'import type { SqlClient } from "@effect/sql"\nexport type X = SqlClient.SqlClient\n')).toHaveLength(1)
    expect(await lint("src/console/X.tsx", 'import { SqlClient } from "@effect/sql"\nexport const x = SqlClient\n')).toHaveLength(1) // pages (JSX) too
    expect(await lint("src/http/routes/X.ts", 'import type { SqlError } from "@effect/sql/SqlError"\nexport type X = SqlError\n')).toHaveLength(1)
    expect(await lint("supervisors/X.ts", 'import { PgClient } from "@effect/sql-pg"\nexport const x = PgClient\n')).toHaveLength(1)
    expect(await lint("supervisors/X.ts", 'import * as Statement from "@effect/sql/Statement"\nexport const x = Statement\n')).toHaveLength(1)
    expect(await lint("supervisors/X.ts", 'export { SqlClient } from "@effect/sql"\n')).toHaveLength(1)
  })

  it("allows it in infra, and the transaction helper and repositories elsewhere", async () => {
    expect(await lint("infra/callbacks/X.ts", 'import { SqlClient } from "@effect/sql"\nexport const x = SqlClient\n')).toEqual([])
    expect(await lint("infra/db/X.ts", 'import { PgClient } from "@effect/sql-pg"\nexport const x = PgClient\n')).toEqual([])
    expect(await lint("src/X.ts", 'import { inTransaction } from "../infra/db/Transaction.ts"\nexport const x = inTransaction\n')).toEqual([])
    expect(await lint("supervisors/X.ts", 'import { JobStore } from "../infra/jobs/JobStore.ts"\nexport const x = JobStore\n')).toEqual([])
  })
})
