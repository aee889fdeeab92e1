#!/usr/bin/env node
/**
 * Extracts from Twilio's OpenAPI description of the 2010 API what the
 * simulator fidelity test (tests/infra/twilio/SimulatorFidelity.test.ts)
 * checks against: the response schemas of the Calls and Messages operations
 * the app and the simulator use, the components they reference (every `$ref`
 * followed), the call and message status enums, and Twilio's own examples of
 * each response.
 *
 *   node scripts/extract-twilio-fixture.mjs path/to/twilio_api_v2010.json [out.json]
 *
 * The input is a local copy of twilio/twilio-oai's spec/json/twilio_api_v2010.json
 * (nothing is downloaded). Update SOURCE when extracting from another commit.
 */
import { readFileSync, writeFileSync } from "node:fs"

const SOURCE = {
  repository: "https://github.com/twilio/twilio-oai",
  path: "spec/json/twilio_api_v2010.json",
  commit: "d50069b44ea8cd23141385bdb6db48f16ff75bb5",
  date: "2026-04-14",
  licence: "MIT",
  copyright: "Copyright (C) 2023, Twilio, Inc. <help@twilio.com>",
  licenceFile: "LICENSE-twilio-oai"
}

const ACCOUNT = "/2010-04-01/Accounts/{AccountSid}"
/** The operations used, by Twilio's operationId: [path, method, status]. */
const OPERATIONS = {
  CreateCall: [`${ACCOUNT}/Calls.json`, "post", "201"],
  FetchCall: [`${ACCOUNT}/Calls/{Sid}.json`, "get", "200"],
  ListCall: [`${ACCOUNT}/Calls.json`, "get", "200"],
  CreateMessage: [`${ACCOUNT}/Messages.json`, "post", "201"],
  FetchMessage: [`${ACCOUNT}/Messages/{Sid}.json`, "get", "200"]
}
const ENUMS = { callStatus: "call_enum_status", callEvent: "call_enum_event", messageStatus: "message_enum_status" }

const [input, output = "tests/fixtures/twilio/api_v2010_calls_messages.json"] = process.argv.slice(2)
if (input === undefined) {
  console.error("usage: node scripts/extract-twilio-fixture.mjs <twilio_api_v2010.json> [output.json]")
  process.exit(2)
}
const spec = JSON.parse(readFileSync(input, "utf8"))
const PREFIX = "#/components/schemas/"

/** Copies the components `value` references into `into`, transitively. */
const collect = (value, into) => {
  if (Array.isArray(value)) return value.forEach((item) => collect(item, into))
  if (value === null || typeof value !== "object") return
  for (const [key, inner] of Object.entries(value)) {
    if (key === "$ref") {
      if (typeof inner !== "string" || !inner.startsWith(PREFIX)) throw new Error(`unexpected $ref ${String(inner)}`)
      const name = inner.slice(PREFIX.length)
      const schema = spec.components.schemas[name]
      if (schema === undefined) throw new Error(`$ref ${inner} does not resolve`)
      if (!(name in into)) {
        into[name] = schema
        collect(schema, into)
      }
    } else collect(inner, into)
  }
}

const schemas = {}
const operations = {}
for (const [operationId, [path, method, status]] of Object.entries(OPERATIONS)) {
  const operation = spec.paths[path]?.[method]
  if (operation?.operationId !== operationId) throw new Error(`${method.toUpperCase()} ${path} is not ${operationId} in this spec`)
  const content = operation.responses[status]?.content?.["application/json"]
  if (content === undefined) throw new Error(`${operationId} has no ${status} JSON response`)
  collect(content.schema, schemas)
  operations[operationId] = {
    method,
    path,
    status: Number(status),
    schema: content.schema,
    examples: Object.fromEntries(Object.entries(content.examples ?? {}).map(([name, example]) => [name, example.value]))
  }
}
const enums = {}
for (const [name, component] of Object.entries(ENUMS)) {
  collect({ $ref: PREFIX + component }, schemas)
  enums[name] = spec.components.schemas[component].enum
}

const fixture = {
  source: { ...SOURCE, openapi: spec.openapi, extractedBy: "scripts/extract-twilio-fixture.mjs" },
  operations,
  enums,
  components: { schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))) }
}
writeFileSync(output, JSON.stringify(fixture, null, 2) + "\n")
console.log(`wrote ${output}: ${Object.keys(operations).join(", ")}; components ${Object.keys(schemas).join(", ")}`)
