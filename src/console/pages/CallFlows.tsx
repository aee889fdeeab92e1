/**
 * A department's call flow (docs/callbacks.md, "Departments and call flows"):
 * `/admin/businesses/{id}/departments/{key}/flow`, `main` included, shows the
 * version in force (0: the default flow) as a person reads it, saves a new
 * version from its JSON (the admin API's `PUT .../flow` body, checked by the
 * API's rules and then the use case's, each error shown with its place in the
 * flow), and lists every version; `?from=N` starts the form from version N,
 * to go back to it.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { Business } from "../../../domain/callbacks/Business.ts"
import { CallFlow, type Speech } from "../../../domain/callbacks/CallFlow.ts"
import { type Department, MAIN } from "../../../domain/callbacks/Department.ts"
import * as Businesses from "../../callbacks/Businesses.ts"
import * as Departments from "../../callbacks/Departments.ts"
import { type FieldError, validationFailed } from "../../Failures.ts"
import { putCallFlow } from "../../http/contract/Departments.ts"
import { decodeAll } from "../../http/Validate.ts"
import { Facts, Layout, type PageContext, Table, Time } from "../Components.tsx"
import { action, type ConsoleRoutes, page } from "../ConsoleRouter.tsx"
import { ErrorSummary, type FormState, formState, LinesInput, PostForm } from "../Inputs.tsx"

const FLOW_LABELS: Readonly<Record<string, string>> = { flow: "Call flow" }

export const departmentPath = (businessId: string, key: string) => `/admin/businesses/${businessId}/departments/${key}`
export const flowPath = (businessId: string, key: string) => `${departmentPath(businessId, key)}/flow`

/** A department's name by its key (`main`: the business's own line). */
export const departmentName = (business: Business, departments: ReadonlyArray<Department>, key: string): string =>
  key === MAIN ? `${business.name} (main)` : (departments.find((d) => d.key === key)?.name ?? key)

const SpeechText = ({ speech }: { speech: Speech }) => (
  <>
    <ol class="lines">
      {speech.lines.map((line) => (
        <li>{line}</li>
      ))}
    </ol>
    {speech.voice === undefined && speech.language === undefined ? null : (
      <span class="hint">{[speech.voice === undefined ? undefined : `voice ${speech.voice}`, speech.language === undefined ? undefined : `in ${speech.language}`].filter((x) => x !== undefined).join(", ")}</span>
    )}
  </>
)

const choiceText = (choice: NonNullable<CallFlow["menu"]>["choices"][number], name: (key: string) => string): string =>
  choice.action === "accept" ? "accept: call the visitor and connect them" : choice.action === "decline" ? "decline: goodbye; the request goes on as if unanswered" : `send the request to ${name(choice.department ?? MAIN)}`

const NO_INPUT = { accept: "the visitor is called", decline: "goodbye; the request goes on as if unanswered" } as const

/** A flow as a person reads it: what the agent hears, the keypad menu, the bridge, what the visitor hears. */
const FlowText = ({ flow, name }: { flow: CallFlow; name: (key: string) => string }) => (
  <Facts
    rows={[
      ["the agent hears", <SpeechText speech={flow.announcement} />],
      ...(flow.menu === undefined
        ? [["menu", "none: the visitor is called at once"] as const]
        : [
            ["menu", `one key within ${flow.menu.timeoutSeconds} s; no key: ${NO_INPUT[flow.menu.noInput]}`] as const,
            ["menu prompt", <SpeechText speech={flow.menu.prompt} />] as const,
            [
              "keys",
              <ul class="choices">
                {flow.menu.choices.map((choice) => (
                  <li>
                    <kbd>{choice.digit}</kbd> {choiceText(choice, name)}
                  </li>
                ))}
              </ul>
            ] as const
          ]),
      ["bridge", `the visitor's phone rings up to ${flow.bridge.timeoutSeconds} s; ${flow.bridge.record ? "the call is recorded" : "not recorded"}`],
      ["the visitor hears", flow.visitor === undefined ? "nothing: connected at once" : <SpeechText speech={flow.visitor} />]
    ]}
  />
)

const flowSummary = (flow: CallFlow): string =>
  [
    `${flow.announcement.lines.length} announcement line${flow.announcement.lines.length === 1 ? "" : "s"}`,
    flow.menu === undefined ? "no menu" : `menu: ${flow.menu.choices.map((c) => `${c.digit} ${c.action}${c.department === undefined ? "" : ` ${c.department}`}`).join(", ")}`,
    `bridge ${flow.bridge.timeoutSeconds} s${flow.bridge.record ? ", recorded" : ""}`,
    flow.visitor === undefined ? undefined : "visitor greeting"
  ]
    .filter((x) => x !== undefined)
    .join(" · ")

const FromQuery = Schema.Struct({
  from: Schema.optional(
    Schema.compose(Schema.String.pipe(Schema.pattern(/^\d{1,9}$/, { message: () => "must be a version number" })), Schema.NumberFromString).annotations({ description: "the version the form starts from" })
  )
})

/** An error of a flow at the field that holds it (the one JSON text), saying where in the flow: `menu.choices.0.department: ...`. */
const flowErrors = (errors: ReadonlyArray<FieldError>): ReadonlyArray<FieldError> =>
  errors.map((e) => {
    const where = e.path.replace(/^\//, "").replace(/\//g, ".")
    return { in: e.in, path: "/flow", message: where === "" || where === "flow" ? e.message : `${where}: ${e.message}` }
  })

const flowPage = (context: PageContext, businessId: string, key: string, from: number | undefined, state: ((text: string) => FormState) | undefined) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(businessId)
    const [current, versions, departments] = yield* Effect.all([Departments.currentFlow(business.id, key), Departments.flowVersions(business.id, key), Departments.list(business.id)])
    const name = (k: string) => departmentName(business, departments, k)
    const start = from === undefined ? current : versions.find((v) => v.version === from)
    const text = JSON.stringify((start ?? current).flow, null, 2)
    const shown = state === undefined ? formState({ flow: text }) : state(text)
    const targets = [MAIN, ...departments.map((d) => d.key)].filter((k) => k !== key)
    return (
      <Layout title={`Call flow of ${name(key)}`} page={context}>
        <p>
          <a href={key === MAIN ? `/admin/businesses/${business.id}` : departmentPath(business.id, key)}>{`← ${key === MAIN ? business.name : name(key)}`}</a>
        </p>
        <h2>{current.version === 0 ? "In force: the default flow (version 0)" : `In force: version ${current.version}`}</h2>
        {current.createdAt === undefined ? null : (
          <p class="hint">
            Saved <Time at={current.createdAt} />. Calls answered from then on play it.
          </p>
        )}
        <FlowText flow={current.flow} name={name} />
        <h2 id="new-version">Save a new version</h2>
        {from !== undefined && start === undefined ? <p class="error">{`There is no version ${from}; the form starts from the flow in force.`}</p> : null}
        <ErrorSummary state={shown} labels={FLOW_LABELS} />
        <PostForm page={context} action={flowPath(business.id, key)} submit="Save as a new version">
          <LinesInput
            state={shown}
            name="flow"
            label="Call flow"
            hint={
              `The whole flow as JSON, as the admin API takes it: announcement {lines, voice, language}, menu {prompt, choices [{digit, action: accept, decline or route, department}], timeoutSeconds, noInput}, bridge {timeoutSeconds, record}, visitor {lines}; menu and visitor may be left out. ` +
              `Lines may name {name}, {topic} and {note}. ${targets.length === 0 ? "A route has nowhere to go: the business has no other department." : `A route may send the request to ${targets.join(", ")}.`}`
            }
            rows={Math.min(40, Math.max(12, text.split("\n").length + 2))}
          />
        </PostForm>
        <h2>Versions</h2>
        <Table caption="Saved versions of the flow, newest first" headers={["version", "saved", "what it does", ""]} empty={versions.length === 0} id="flow-versions">
          {versions.map((v) => (
            <tr>
              <td class="num">{v.version === current.version ? `${v.version} (in force)` : v.version}</td>
              <td>
                <Time at={v.createdAt} />
              </td>
              <td>{flowSummary(v.flow)}</td>
              <td>
                <a href={`${flowPath(business.id, key)}?from=${v.version}#new-version`}>{`Start from version ${v.version}`}</a>
              </td>
            </tr>
          ))}
        </Table>
      </Layout>
    )
  })

/** The flow page and the saving of a new version. */
export const callFlowPages = (routes: ConsoleRoutes) => {
  page(routes, "/admin/businesses/:id/departments/:key/flow", FromQuery, ({ query, page: context }, c) =>
    flowPage(context, c.req.param("id") ?? "", c.req.param("key") ?? "", query.from, undefined)
  )

  action(
    routes,
    "/admin/businesses/:id/departments/:key/flow",
    {
      route: putCallFlow,
      form: Schema.Struct({ flow: Schema.String }),
      retry: ({ fields, errors, params, page: context }) => flowPage(context, params["id"] ?? "", params["key"] ?? "", undefined, () => formState(fields, flowErrors(errors)))
    },
    ({ form, params }) =>
      Effect.gen(function* () {
        const parsed = yield* Effect.try({
          try: (): unknown => JSON.parse(form.flow),
          catch: (error) => validationFailed([{ in: "body", path: "/flow", message: `is not JSON: ${error instanceof Error ? error.message : String(error)}` }])
        })
        const flow = yield* Either.match(decodeAll(CallFlow, parsed, "body", "error"), { onLeft: (errors) => Effect.fail(validationFailed(errors)), onRight: Effect.succeed })
        const saved = yield* Departments.saveFlow(params["id"] ?? "", params["key"] ?? "", flow)
        return {
          notice: `Version ${saved.version} of the call flow saved: calls answered from now on play it.`,
          to: flowPath(params["id"] ?? "", params["key"] ?? ""),
          detail: { department: saved.department, version: saved.version }
        }
      })
  )
}
