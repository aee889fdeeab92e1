/**
 * A business's departments (docs/callbacks.md, "Departments and call
 * flows"). The business's page lists them, its own line (`main`) first, and
 * adds one; `/admin/businesses/{id}/departments/{key}` shows one, changes it
 * (the API's PUT: every field replaced) and removes it (refused while a
 * request of it is in progress). Their call flows are CallFlows.tsx's. Each
 * change is the admin API's operation, audited as it.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { Child } from "hono/jsx"
import type { Business } from "../../../domain/callbacks/Business.ts"
import { type Department, DepartmentKey, MAIN } from "../../../domain/callbacks/Department.ts"
import * as Businesses from "../../callbacks/Businesses.ts"
import * as Departments from "../../callbacks/Departments.ts"
import { type FieldError, validationFailed } from "../../Failures.ts"
import { DepartmentBody, deleteDepartment, putDepartment } from "../../http/contract/Departments.ts"
import type { HttpServices } from "../../http/Handler.ts"
import { decodeAll } from "../../http/Validate.ts"
import { Action, Facts, hoursText, Layout, type PageContext, Table, Time } from "../Components.tsx"
import { action, type ConsoleRoutes, page } from "../ConsoleRouter.tsx"
import { DepartmentForm, type DepartmentDraft, departmentFields } from "../Forms.ts"
import { ErrorSummary, type FormState, formState, HOURS_LABELS, HoursInput, LinesInput, PostForm, TextInput } from "../Inputs.tsx"
import { callFlowPages, departmentPath, flowPath } from "./CallFlows.tsx"

export { departmentName } from "./CallFlows.tsx"

const DEPARTMENT_LABELS: Readonly<Record<string, string>> = {
  key: "Key",
  name: "Name",
  phone: "Phone",
  ringSeconds: "Ring seconds",
  escalation: "Escalation chain",
  afterHours: "After-hours chain",
  maxConcurrentCalls: "Calls at once",
  hours: "Opening hours",
  ...HOURS_LABELS
}


const chainText = (steps: ReadonlyArray<{ readonly phone: string; readonly ringSeconds: number }>): string =>
  steps.length === 0 ? "none" : steps.map((s, i) => `${i + 1}. ${s.phone} (${s.ringSeconds} s)`).join("; ")

// --- the form ---

/** The fields of a department's form; the key only when it is new. */
const DepartmentFields = ({ state, isNew }: { state: FormState; isNew: boolean }) => (
  <>
    {isNew ? <TextInput state={state} name="key" label="Key" hint="1 to 40 lower-case letters, digits and dashes, such as billing: how the API, the widget's topics and call flows name it. It does not change." required size={20} /> : null}
    <TextInput state={state} name="name" label="Name" hint="What visitors see as the topic, and what {topic} says in the announcement." required />
    <TextInput state={state} name="phone" label="Phone" hint="The first number called; any common format, read in the business's country when it has no +country code." required inputmode="tel" />
    <LinesInput state={state} name="escalation" label="Escalation chain" hint="Backup numbers, called in order once the department's own is exhausted: one per line, optionally with its ring seconds (+4930123456, 25)." rows={3} />
    <div class="row">
      <TextInput state={state} name="ringSeconds" label="Ring seconds" hint="5 to 120" type="number" inputmode="numeric" size={5} />
      <TextInput state={state} name="maxConcurrentCalls" label="Calls at once" hint="1 to 1000, across every process, apart from the business's own" type="number" inputmode="numeric" size={5} />
    </div>
    <HoursInput state={state} legend="Opening hours" hint="Per day, intervals of local time such as 09:00-12:00, 13:00-17:30, in the business's time zone. Every day empty: the business's hours." />
    <LinesInput state={state} name="afterHours" label="After-hours chain" hint="Called instead, in order, for a request that comes while the department is closed (an on-call mobile): one per line, as the escalation chain. Empty: it waits for the opening." rows={2} />
  </>
)


/** The API's body of a department from its form, with its phones read in the business's country (Departments.readPhones): every rule at once. */
const departmentBody = (draft: DepartmentDraft, business: Business, keyErrors: ReadonlyArray<FieldError> = []) => {
  const phones = Departments.readPhones(draft, business.country)
  const { key: _key, ...fields } = Either.getOrElse(phones, () => draft)
  const decoded = decodeAll(DepartmentBody, fields, "body", "error")
  const phoneErrors = Either.isLeft(phones) ? phones.left : []
  // an empty phone breaks both rules: said once
  const errors = [...keyErrors, ...phoneErrors, ...(Either.isLeft(decoded) ? decoded.left.filter((e) => !phoneErrors.some((p) => p.path === e.path)) : [])]
  return Either.isRight(decoded) && errors.length === 0 ? Effect.succeed(decoded.right) : Effect.fail(validationFailed(errors))
}

/** The same for a new department, with its key, which must be free: not `main`, not a department the business has (`taken`). */
const newDepartmentBody = (draft: DepartmentDraft, business: Business, taken: ReadonlyArray<string>) => {
  const key = draft.key
  const keyErrors: Array<FieldError> = Either.isLeft(Schema.decodeUnknownEither(DepartmentKey)(key))
    ? [{ in: "body", path: "/key", message: "must be 1 to 40 lower-case letters, digits and dashes" }]
    : key === MAIN
      ? [{ in: "body", path: "/key", message: "is the business's own line; change it with the business's settings" }]
      : taken.includes(key)
        ? [{ in: "body", path: "/key", message: `is taken: the business has a department ${key} (change it on its page)` }]
        : []
  return Effect.map(departmentBody(draft, business, keyErrors), (body) => ({ key, ...body }))
}

// --- the business page's part ---

/** What the business page shows of its departments: each with the version of its flow in force (main first). */
export const departmentsOf = (business: Business) =>
  Effect.gen(function* () {
    const departments = yield* Departments.list(business.id)
    const flows = yield* Effect.forEach([MAIN, ...departments.map((d) => d.key)], (key) => Effect.map(Departments.currentFlow(business.id, key), (flow) => [key, flow.version] as const))
    return { departments, versions: new Map(flows) }
  })

/** The business page's departments: the business's own line and each department, and the form that adds one (open when it came back with errors). */
export const DepartmentsSection = ({
  page: context,
  business,
  departments,
  versions,
  state
}: {
  page: PageContext
  business: Business
  departments: ReadonlyArray<Department>
  versions: ReadonlyMap<string, number>
  state: FormState
}) => {
  const flowLink = (key: string) => <a href={flowPath(business.id, key)}>{`version ${versions.get(key) ?? 0}`}</a>
  return (
    <>
      <h2>Departments</h2>
      <p class="hint">A visitor picks one as their topic; its calls go to its own chain, at its own hours and cap. The business's own line is main.</p>
      <Table caption="Departments" headers={["key", "name", "phone", "escalation", "hours", "calls at once", "call flow"]} empty={false} id="departments">
        <tr>
          <td>
            <code>{MAIN}</code>
          </td>
          <td>
            <a href={`/admin/businesses/${business.id}/edit`}>{`${business.name} (the business's own line)`}</a>
          </td>
          <td>{business.phone}</td>
          <td>{chainText(business.escalation)}</td>
          <td>{hoursText(business.hours)}</td>
          <td class="num">{business.maxConcurrentCalls}</td>
          <td>{flowLink(MAIN)}</td>
        </tr>
        {departments.map((d) => (
          <tr>
            <td>
              <code>{d.key}</code>
            </td>
            <td>
              <a href={departmentPath(business.id, d.key)}>{d.name}</a>
            </td>
            <td>{d.phone}</td>
            <td>{chainText(d.escalation)}</td>
            <td>{hoursText(d.hours, "business hours")}</td>
            <td class="num">{d.maxConcurrentCalls}</td>
            <td>{flowLink(d.key)}</td>
          </tr>
        ))}
      </Table>
      <details open={state.errors.size > 0} id="add-department">
        <summary>Add a department</summary>
        <ErrorSummary state={state} labels={DEPARTMENT_LABELS} />
        <PostForm page={context} action={`/admin/businesses/${business.id}/departments`} submit="Add department">
          <DepartmentFields state={state} isNew />
        </PostForm>
      </details>
    </>
  )
}

// --- a department's page ---

const DepartmentPage = ({ page: context, business, department, version, state }: { page: PageContext; business: Business; department: Department; version: number; state: FormState }) => (
  <Layout title={`${department.name}, a department of ${business.name}`} page={context}>
    <p>
      <a href={`/admin/businesses/${business.id}`}>{`← ${business.name}`}</a>
    </p>
    <Facts
      rows={[
        ["key", <code>{department.key}</code>],
        ["phone", department.phone],
        ["escalation", chainText(department.escalation)],
        ["ring", `${department.ringSeconds} s`],
        ["hours", department.hours === undefined ? `business hours (${hoursText(business.hours)})` : hoursText(department.hours)],
        ["after hours", department.afterHours.length === 0 ? "none: a request waits for the opening" : chainText(department.afterHours)],
        ["calls at once", String(department.maxConcurrentCalls)],
        ["call flow", <a href={flowPath(business.id, department.key)}>{version === 0 ? "the default flow (version 0)" : `version ${version}`}</a>],
        ["updated", <Time at={department.updatedAt} />]
      ]}
    />
    <p>
      <Action
        page={context}
        action={`${departmentPath(business.id, department.key)}/delete`}
        label="Remove department"
        danger
        confirm={`Remove the department ${department.name}? Visitors can no longer pick it; its flow's versions are kept. It is refused while a request of it is in progress.`}
      />
    </p>
    <h2>Settings</h2>
    <ErrorSummary state={state} labels={DEPARTMENT_LABELS} />
    <PostForm page={context} action={departmentPath(business.id, department.key)} submit="Save department">
      <DepartmentFields state={state} isNew={false} />
    </PostForm>
  </Layout>
)

const departmentPage = (context: PageContext, businessId: string, key: string, state: (department: Department) => FormState) =>
  Effect.gen(function* () {
    const department = yield* Departments.find(businessId, key)
    const [business, flow] = yield* Effect.all([Businesses.find(businessId), Departments.currentFlow(businessId, key)])
    return <DepartmentPage page={context} business={business} department={department} version={flow.version} state={state(department)} />
  })

// --- routes ---

/** What the business page is drawn with: its departments' add form as it should appear. */
export type BusinessPage = (context: PageContext, businessId: string, addDepartment: FormState) => Effect.Effect<Child, unknown, HttpServices>

export const departmentPages = (routes: ConsoleRoutes, businessPage: BusinessPage) => {
  action(
    routes,
    "/admin/businesses/:id/departments",
    {
      route: putDepartment,
      form: DepartmentForm,
      retry: ({ fields, errors, params, page: context }) => businessPage(context, params["id"] ?? "", formState(fields, errors))
    },
    ({ form, params }) =>
      Effect.gen(function* () {
        const business = yield* Businesses.find(params["id"] ?? "")
        const taken = (yield* Departments.list(business.id)).map((d) => d.key)
        const { key, ...body } = yield* newDepartmentBody(form, business, taken)
        const { department } = yield* Departments.put(business.id, key, body)
        return {
          notice: `Department ${department.name} (${department.key}) added. Its calls play the default flow until you save one.`,
          to: `/admin/businesses/${business.id}`,
          detail: { department: department.key, created: true }
        }
      })
  )

  page(routes, "/admin/businesses/:id/departments/:key", undefined, ({ page: context }, c) =>
    departmentPage(context, c.req.param("id") ?? "", c.req.param("key") ?? "", (department) => formState(departmentFields(department)))
  )

  action(
    routes,
    "/admin/businesses/:id/departments/:key",
    {
      route: putDepartment,
      form: DepartmentForm,
      retry: ({ fields, errors, params, page: context }) => departmentPage(context, params["id"] ?? "", params["key"] ?? "", () => formState(fields, errors))
    },
    ({ form, params }) =>
      Effect.gen(function* () {
        // changed, never made again: a department removed meanwhile is not found
        const existing = yield* Departments.find(params["id"] ?? "", params["key"] ?? "")
        const business = yield* Businesses.find(existing.businessId)
        const body = yield* departmentBody(form, business)
        const { department } = yield* Departments.put(business.id, existing.key, body)
        return { notice: `Department ${department.name} saved.`, to: departmentPath(business.id, department.key), detail: { department: department.key, created: false } }
      })
  )

  action(routes, "/admin/businesses/:id/departments/:key/delete", { route: deleteDepartment }, ({ params }) =>
    Effect.gen(function* () {
      const department = yield* Departments.find(params["id"] ?? "", params["key"] ?? "")
      yield* Departments.remove(department.businessId, department.key)
      return { notice: `Department ${department.name} (${department.key}) removed.`, to: `/admin/businesses/${department.businessId}`, detail: { department: department.key } }
    })
  )

  callFlowPages(routes)
}
