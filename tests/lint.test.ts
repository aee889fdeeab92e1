/** The dependency direction is enforced by `npm run lint`, not by convention. */
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
