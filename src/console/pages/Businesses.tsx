/**
 * The businesses: `GET /admin/businesses` lists them; `/admin/businesses/new`
 * and `/admin/businesses/{id}/edit` are the settings form (hours, escalation
 * chain, limits, VIP phones, origins); `/admin/businesses/{id}` shows one with
 * its departments (Departments.tsx), its keys (issue, revoke now or after an
 * overlap) and its webhook endpoints;
 * `/admin/webhooks/{id}` is an endpoint with its settings, secret rotation
 * and delivery log (replay). Every change is the admin API's operation, with
 * the API's validation (Forms.ts); a key or a secret is shown once, on the
 * page that answers the change, and never put in a URL.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Child } from "hono/jsx"
import type { Business } from "../../../domain/callbacks/Business.ts"
import { HistoryEventTypes } from "../../../domain/callbacks/History.ts"
import { secretHint } from "../../../domain/callbacks/Webhooks.ts"
import * as Businesses from "../../callbacks/Businesses.ts"
import * as Keys from "../../callbacks/Keys.ts"
import * as WebhookAdmin from "../../callbacks/WebhookAdmin.ts"
import { validationFailed } from "../../Failures.ts"
import { BusinessBody, BusinessesQuery, createBusiness, updateBusiness } from "../../http/contract/AdminCallbacks.ts"
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  DeliveryPageQuery,
  replayWebhookDelivery,
  rotateWebhookSecret,
  updateWebhookEndpoint
} from "../../http/contract/AdminWebhooks.ts"
import { issueKey, revokeKey } from "../../http/contract/Keys.ts"
import { merged } from "../../http/routes/AdminCallbacks.ts"
import { decodeAll } from "../../http/Validate.ts"
import { Action, Facts, hoursText, href, Layout, type PageContext, Pager, Status, Table, Time } from "../Components.tsx"
import { action, type ConsoleRoutes, page } from "../ConsoleRouter.tsx"
import { BusinessForm, businessFields, EndpointForm, endpointFields, type FormFields, IssueKeyForm, NEW_BUSINESS, NEW_DEPARTMENT, NewEndpointForm, RevokeKeyForm } from "../Forms.ts"
import { type BusinessPage, departmentPages, departmentsOf, DepartmentsSection } from "./Departments.tsx"
import { CheckInput, ErrorSummary, type FormState, formState, Group, HOURS_LABELS, HoursInput, LinesInput, PostForm, SelectInput, TextInput } from "../Inputs.tsx"

const BUSINESS_LABELS: Readonly<Record<string, string>> = {
  name: "Name",
  phone: "Phone",
  timezone: "Time zone",
  country: "Country",
  hours: "Opening hours",
  ...HOURS_LABELS,
  escalation: "Escalation chain",
  afterHours: "After-hours chain",
  ringSeconds: "Ring seconds",
  maxConcurrentCalls: "Calls at once",
  vipPhones: "VIP phones",
  smsFallback: "SMS fallback",
  allowedOrigins: "Allowed origins"
}

/** The settings form of a business: a new one (`business` absent) or an existing one. */
const BusinessEditor = ({ page: context, state, business }: { page: PageContext; state: FormState; business?: Business | undefined }) => (
  <Layout title={business === undefined ? "New business" : `Settings of ${business.name}`} page={context}>
    <ErrorSummary state={state} labels={BUSINESS_LABELS} />
    <PostForm page={context} action={business === undefined ? "/admin/businesses" : `/admin/businesses/${business.id}`} submit={business === undefined ? "Create business" : "Save settings"}>
      <TextInput state={state} name="name" label="Name" required />
      <TextInput state={state} name="phone" label="Phone" hint="The first number called; any common format, read in the country below when it has no +country code." required autocomplete="off" inputmode="tel" />
      <TextInput state={state} name="timezone" label="Time zone" hint="IANA name, such as Europe/Berlin or America/New_York: the opening hours are read in it." required />
      <TextInput state={state} name="country" label="Country" hint="ISO code such as US or DE: local phone numbers (the business's and its visitors') are read in it." size={4} />
      <HoursInput state={state} legend="Opening hours" hint="Per day, intervals of local time such as 09:00-12:00, 13:00-17:30. A day left empty is closed; every day empty: always open." />
      <LinesInput state={state} name="escalation" label="Escalation chain" hint="Backup numbers, called in order once the business's own is exhausted: one per line, optionally with its ring seconds (+4930123456, 25)." rows={4} />
      <LinesInput state={state} name="afterHours" label="After-hours chain" hint="Called instead, in order, for a request verified while the business is closed (an on-call mobile): one per line, as the escalation chain. Empty: it waits for the opening." rows={2} />
      <div class="row">
        <TextInput state={state} name="ringSeconds" label="Ring seconds" hint="5 to 120" type="number" inputmode="numeric" size={5} />
        <TextInput state={state} name="maxConcurrentCalls" label="Calls at once" hint="1 to 1000, across every process" type="number" inputmode="numeric" size={5} />
      </div>
      <LinesInput state={state} name="vipPhones" label="VIP phones" hint="Visitors whose requests run first: one number per line." rows={3} />
      <LinesInput state={state} name="allowedOrigins" label="Allowed origins" hint="Web pages that may embed the widget: one origin per line, such as https://shop.example (no path, no wildcard)." rows={3} />
      <CheckInput state={state} name="smsFallback" label="Text the visitor once when the callback finally fails" />
    </PostForm>
    <p>
      <a href={business === undefined ? "/admin/businesses" : `/admin/businesses/${business.id}`}>Cancel</a>
    </p>
  </Layout>
)

const KIND_OPTIONS = [
  ["publishable", "publishable (pk_…, for a web page)"],
  ["secret", "secret (sk_…, for servers)"]
] as const

const REVOKE_OPTIONS = [
  ["0", "now"],
  ["3600", "in 1 hour"],
  ["86400", "in 1 day"],
  ["604800", "in 7 days"]
] as const

const EVENT_LABELS = Object.fromEntries(HistoryEventTypes.map((type) => [`event.${type}`, type]))
const ENDPOINT_LABELS: Readonly<Record<string, string>> = { url: "URL", eventTypes: "Events", description: "Description", enabled: "Enabled", ...EVENT_LABELS }

/** The fields of an endpoint form: URL, event types (none ticked: every type), description, and `enabled` when editing. */
const EndpointFields = ({ state, editing }: { state: FormState; editing: boolean }) => (
  <>
    <TextInput state={state} name="url" label="URL" hint="Where events are POSTed, signed (Standard Webhooks)." required type="url" />
    <Group legend="Events" state={state} name="eventTypes" hint="Tick none for every event type.">
      <div class="checks">
        {HistoryEventTypes.map((type) => (
          <CheckInput state={state} name={`event.${type}`} label={type} />
        ))}
      </div>
    </Group>
    <TextInput state={state} name="description" label="Description" />
    {editing ? <CheckInput state={state} name="enabled" label="Enabled (enabling one that was disabled resumes its waiting deliveries)" /> : null}
  </>
)

/** A page that shows a key or secret this once. */
const ShownOnce = ({ page: context, title, what, value, back, children }: { page: PageContext; title: string; what: string; value: string; back: string; children?: Child }) => (
  <Layout title={title} page={context}>
    <p class="notice" role="status">{`Copy the ${what} now: it is shown this once, and only its hash is kept.`}</p>
    <p>
      <label for="shown-once">{what}</label>
      <input id="shown-once" class="secret" readonly value={value} size={Math.min(80, value.length + 2)} />
    </p>
    {children}
    <p>
      <a href={back}>Done</a>
    </p>
  </Layout>
)

/** A business's settings from its form: a whole create body, validated as the API's. */
const createBody = (fields: typeof BusinessForm.Type) =>
  Either.match(decodeAll(BusinessBody, fields, "body", "error"), { onLeft: (errors) => Effect.fail(validationFailed(errors)), onRight: Effect.succeed })

/** A business's page: its settings, departments, keys and webhook endpoints; `addDepartment` is the department form as it is to be drawn. */
const businessPage: BusinessPage = (context, id, addDepartment) =>
  Effect.gen(function* () {
    const business = yield* Businesses.find(id)
    const [keys, endpoints, { departments, versions }] = yield* Effect.all([Keys.list(business.id), WebhookAdmin.list(business.id, 100, undefined), departmentsOf(business)])
    const now = new Date()
    const keyState = formState({ kind: "publishable" })
    return (
      <Layout title={business.name} page={context}>
        <p>
          <a href={`/admin/businesses/${business.id}/edit`} class="button">
            Edit settings
          </a>{" "}
          <a href={href("/admin/callbacks", { businessId: business.id })}>This business's callback requests</a>
        </p>
        <Facts
          rows={[
            ["id", <code>{business.id}</code>],
            ["phone", business.phone],
            ["time zone", business.timezone],
            ["country", business.country ?? "—"],
            ["hours", hoursText(business.hours)],
            ["escalation", business.escalation.length === 0 ? "none" : business.escalation.map((s, i) => `${i + 1}. ${s.phone} (${s.ringSeconds} s)`).join("; ")],
            ["after hours", business.afterHours.length === 0 ? "none: waits for the opening" : business.afterHours.map((s, i) => `${i + 1}. ${s.phone} (${s.ringSeconds} s)`).join("; ")],
            ["ring", `${business.ringSeconds} s`],
            ["calls at once", String(business.maxConcurrentCalls)],
            ["VIP phones", business.vipPhones.length === 0 ? "none" : business.vipPhones.join(", ")],
            ["SMS fallback", business.smsFallback ? "on" : "off"],
            ["allowed origins", business.allowedOrigins.length === 0 ? "none" : business.allowedOrigins.join(", ")],
            ["updated", <Time at={business.updatedAt} />]
          ]}
        />
        <DepartmentsSection page={context} business={business} departments={departments} versions={versions} state={addDepartment} />
        <h2>Keys</h2>
        <Table caption="API keys" headers={["prefix", "kind", "label", "created", "stops", ""]} empty={keys.length === 0} id="keys">
          {keys.map((k) => {
            const stopped = k.revokedAt !== undefined && k.revokedAt.getTime() <= now.getTime()
            return (
              <tr>
                <td>
                  <code>{`${k.prefix}…`}</code>
                </td>
                <td>{k.kind}</td>
                <td>{k.label ?? ""}</td>
                <td>
                  <Time at={k.createdAt} />
                </td>
                <td>{stopped ? <Status value="revoked" /> : <Time at={k.revokedAt} />}</td>
                <td>
                  {stopped ? null : (
                    <PostForm page={context} action={`/admin/keys/${k.id}/revoke`} submit="Revoke" class="action" confirm={`Revoke key ${k.prefix}…? Pages and servers using it stop working when it stops.`}>
                      <SelectInput state={formState({ afterSeconds: "0" })} name={`afterSeconds`} label={`When ${k.prefix}… stops`} options={REVOKE_OPTIONS} />
                    </PostForm>
                  )}
                </td>
              </tr>
            )
          })}
        </Table>
        <h3>Issue a key</h3>
        <PostForm page={context} action={`/admin/businesses/${business.id}/keys`} submit="Issue key" class="inline">
          <SelectInput state={keyState} name="kind" label="Kind" options={KIND_OPTIONS} hint="A publishable key may only create and follow callbacks." />
          <TextInput state={keyState} name="label" label="Label" hint="What it is for, such as “shop widget”." />
        </PostForm>
        <h2>Webhook endpoints</h2>
        <Table caption="Webhook endpoints" headers={["url", "state", "events", "failures", "secret"]} empty={endpoints.items.length === 0} id="webhooks">
          {endpoints.items.map((e) => (
            <tr>
              <td>
                <a href={`/admin/webhooks/${e.id}`}>{e.url}</a>
              </td>
              <td>
                <Status value={e.enabled ? "enabled" : "disabled"} />
                {e.disabledReason === undefined ? null : <span class="hint">{` ${e.disabledReason}`}</span>}
              </td>
              <td>{e.eventTypes.length === 0 ? "every event" : e.eventTypes.join(", ")}</td>
              <td class="num">{e.consecutiveFailures}</td>
              <td>
                <code>{secretHint(e.secret)}</code>
              </td>
            </tr>
          ))}
        </Table>
        <p>
          <a href={`/admin/businesses/${business.id}/webhooks/new`} class="button">
            Add an endpoint
          </a>
        </p>
      </Layout>
    )
  })

export const businessPages = (routes: ConsoleRoutes) => {
  page(routes, "/admin/businesses", BusinessesQuery, ({ query, page: context }) =>
    Effect.gen(function* () {
      const found = yield* Businesses.list(query.limit, query.cursor)
      return (
        <Layout title="Businesses" page={context}>
          <p>
            <a href="/admin/businesses/new" class="button">
              New business
            </a>
          </p>
          <Table caption="Businesses" headers={["name", "phone", "time zone", "hours", "escalation steps", "calls at once"]} empty={found.items.length === 0} id="businesses">
            {found.items.map((b) => (
              <tr>
                <td>
                  <a href={`/admin/businesses/${b.id}`}>{b.name}</a>
                </td>
                <td>{b.phone}</td>
                <td>{b.timezone}</td>
                <td>{hoursText(b.hours)}</td>
                <td class="num">{b.escalation.length}</td>
                <td class="num">{b.maxConcurrentCalls}</td>
              </tr>
            ))}
          </Table>
          <Pager path="/admin/businesses" query={{}} cursor={found.nextCursor} />
        </Layout>
      )
    })
  )

  page(routes, "/admin/businesses/new", undefined, ({ page: context }) => Effect.succeed(<BusinessEditor page={context} state={formState(NEW_BUSINESS)} />))

  action(
    routes,
    "/admin/businesses",
    { route: createBusiness, form: BusinessForm, retry: ({ fields, errors, page: context }) => Effect.succeed(<BusinessEditor page={context} state={formState(fields, errors)} />) },
    ({ form }) =>
      Effect.gen(function* () {
        const business = yield* Businesses.create(yield* createBody(form))
        return { notice: `${business.name} was created. Issue it a key to embed the widget.`, to: `/admin/businesses/${business.id}`, detail: { business: business.id, name: business.name } }
      })
  )

  page(routes, "/admin/businesses/:id/edit", undefined, ({ page: context }, c) =>
    Effect.map(Businesses.find(c.req.param("id") ?? ""), (business) => <BusinessEditor page={context} business={business} state={formState(businessFields(business))} />)
  )

  action(
    routes,
    "/admin/businesses/:id",
    {
      route: updateBusiness,
      form: BusinessForm,
      retry: ({ fields, errors, params, page: context }) =>
        Effect.map(Businesses.find(params["id"] ?? ""), (business) => <BusinessEditor page={context} business={business} state={formState(fields, errors)} />)
    },
    ({ form, params }) =>
      Effect.gen(function* () {
        const id = params["id"] ?? ""
        const business = yield* Businesses.update(id, merged(form))
        return { notice: `The settings of ${business.name} were saved.`, to: `/admin/businesses/${business.id}`, detail: { name: business.name } }
      })
  )

  page(routes, "/admin/businesses/:id", undefined, ({ page: context }, c) => businessPage(context, c.req.param("id") ?? "", formState(NEW_DEPARTMENT)))

  departmentPages(routes, businessPage)

  action(
    routes,
    "/admin/businesses/:id/keys",
    { route: issueKey, form: IssueKeyForm },
    ({ form, params, page: context }) =>
      Effect.map(Keys.issue(params["id"] ?? "", form.kind, form.label), (issued) => ({
        notice: `Key ${issued.prefix}… issued.`,
        detail: { key: issued.id, kind: issued.kind, prefix: issued.prefix },
        show: <ShownOnce page={context} title={`New ${issued.kind} key`} what="key" value={issued.key} back={`/admin/businesses/${issued.businessId}`} />
      }))
  )

  action(routes, "/admin/keys/:id/revoke", { route: revokeKey, form: RevokeKeyForm }, ({ form, params }) =>
    Effect.map(Keys.revoke(params["id"] ?? "", form.afterSeconds), (key) => ({
      notice: form.afterSeconds === 0 ? `Key ${key.prefix}… revoked: it stopped working.` : `Key ${key.prefix}… stops working ${REVOKE_OPTIONS.find(([s]) => Number(s) === form.afterSeconds)?.[1] ?? `in ${form.afterSeconds} s`}.`,
      detail: { afterSeconds: form.afterSeconds }
    }))
  )

  // --- webhook endpoints ---

  const NewEndpoint = ({ page: context, business, state }: { page: PageContext; business: Business; state: FormState }) => (
    <Layout title={`New webhook endpoint of ${business.name}`} page={context}>
      <ErrorSummary state={state} labels={ENDPOINT_LABELS} />
      <PostForm page={context} action={`/admin/businesses/${business.id}/webhooks`} submit="Add endpoint">
        <EndpointFields state={state} editing={false} />
      </PostForm>
      <p>
        <a href={`/admin/businesses/${business.id}`}>Cancel</a>
      </p>
    </Layout>
  )

  page(routes, "/admin/businesses/:businessId/webhooks/new", undefined, ({ page: context }, c) =>
    Effect.map(Businesses.find(c.req.param("businessId") ?? ""), (business) => <NewEndpoint page={context} business={business} state={formState({})} />)
  )

  action(
    routes,
    "/admin/businesses/:businessId/webhooks",
    {
      route: createWebhookEndpoint,
      form: NewEndpointForm,
      retry: ({ fields, errors, params, page: context }) =>
        Effect.map(Businesses.find(params["businessId"] ?? ""), (business) => <NewEndpoint page={context} business={business} state={formState(fields, errors)} />)
    },
    ({ form, params, page: context }) =>
      Effect.map(WebhookAdmin.create(params["businessId"] ?? "", { url: form.url, eventTypes: form.eventTypes, description: form.description }), ({ endpoint, secret }) => ({
        notice: `Endpoint ${endpoint.url} added.`,
        detail: { endpoint: endpoint.id, url: endpoint.url },
        show: (
          <ShownOnce page={context} title="Webhook endpoint added" what="signing secret" value={secret} back={`/admin/webhooks/${endpoint.id}`}>
            <p>{`Events for ${endpoint.url} are signed with it (the webhook-signature header, Standard Webhooks).`}</p>
          </ShownOnce>
        )
      }))
  )

  const EndpointPage = ({
    page: context,
    endpoint,
    business,
    deliveries,
    nextCursor,
    state
  }: {
    page: PageContext
    endpoint: Effect.Effect.Success<ReturnType<typeof WebhookAdmin.find>>
    business: Business
    deliveries: Effect.Effect.Success<ReturnType<typeof WebhookAdmin.deliveries>>["items"]
    nextCursor: string | undefined
    state: FormState
  }) => (
    <Layout title={`Webhook endpoint of ${business.name}`} page={context}>
      <p>
        <a href={`/admin/businesses/${business.id}`}>{`← ${business.name}`}</a>
      </p>
      <Facts
        rows={[
          ["url", endpoint.url],
          ["state", <><Status value={endpoint.enabled ? "enabled" : "disabled"} />{endpoint.disabledReason === undefined ? null : ` ${endpoint.disabledReason}`}</>],
          ["failures in a row", String(endpoint.consecutiveFailures)],
          ["failing since", <Time at={endpoint.failingSince} />],
          ["secret", <code>{secretHint(endpoint.secret)}</code>],
          ["created", <Time at={endpoint.createdAt} />]
        ]}
      />
      <p>
        <Action page={context} action={`/admin/webhooks/${endpoint.id}/rotate-secret`} label="Rotate secret" confirm="Make a new signing secret? The old one keeps signing alongside it for the overlap, then stops." />{" "}
        <Action page={context} action={`/admin/webhooks/${endpoint.id}/delete`} label="Delete endpoint" danger confirm={`Delete the endpoint ${endpoint.url}? Its waiting deliveries are dropped.`} />
      </p>
      <h2>Settings</h2>
      <ErrorSummary state={state} labels={ENDPOINT_LABELS} />
      <PostForm page={context} action={`/admin/webhooks/${endpoint.id}`} submit="Save endpoint">
        <EndpointFields state={state} editing />
      </PostForm>
      <h2>Deliveries</h2>
      <div id="deliveries" data-live>
        <Table caption="Delivery attempts, newest first" headers={["at", "event", "outcome", "status", "latency", "error or response", ""]} empty={deliveries.length === 0} id="delivery-log">
          {deliveries.map((d) => (
            <tr>
              <td>
                <Time at={d.at} />
              </td>
              <td>{d.eventType}</td>
              <td>
                <Status value={d.outcome} />
              </td>
              <td class="num">{d.statusCode ?? "—"}</td>
              <td class="num">{`${d.latencyMs} ms`}</td>
              <td>
                <code>{d.error ?? d.responseExcerpt ?? ""}</code>
              </td>
              <td>
                <Action page={context} action={`/admin/webhooks/${endpoint.id}/deliveries/${d.id}/replay`} label="Replay" />
              </td>
            </tr>
          ))}
        </Table>
        <Pager path={`/admin/webhooks/${endpoint.id}`} query={{}} cursor={nextCursor} />
      </div>
    </Layout>
  )

  const endpointPage = (context: PageContext, id: string, cursor: string | undefined, fields: FormFields | undefined, errors: Parameters<typeof formState>[1]) =>
    Effect.gen(function* () {
      const endpoint = yield* WebhookAdmin.find(id)
      const [business, log] = yield* Effect.all([Businesses.find(endpoint.businessId), WebhookAdmin.deliveries(endpoint.id, 50, cursor)])
      const stored = fields ?? endpointFields(endpoint)
      return <EndpointPage page={context} endpoint={endpoint} business={business} deliveries={log.items} nextCursor={log.nextCursor} state={formState(stored, errors)} />
    })

  page(routes, "/admin/webhooks/:endpointId", DeliveryPageQuery, ({ query, page: context }, c) => endpointPage(context, c.req.param("endpointId") ?? "", query.cursor, undefined, []))

  action(
    routes,
    "/admin/webhooks/:endpointId",
    { route: updateWebhookEndpoint, form: EndpointForm, retry: ({ fields, errors, params, page: context }) => endpointPage(context, params["endpointId"] ?? "", undefined, fields, errors) },
    ({ form, params }) =>
      Effect.map(WebhookAdmin.update(params["endpointId"] ?? "", form), (endpoint) => ({
        notice: `Endpoint ${endpoint.url} saved${endpoint.enabled ? "" : " (disabled)"}.`,
        detail: { url: endpoint.url, enabled: endpoint.enabled }
      }))
  )

  action(routes, "/admin/webhooks/:endpointId/rotate-secret", { route: rotateWebhookSecret }, ({ params, page: context }) =>
    Effect.map(WebhookAdmin.rotate(params["endpointId"] ?? ""), ({ endpoint, secret }) => ({
      notice: "Secret rotated.",
      show: (
        <ShownOnce page={context} title="New signing secret" what="signing secret" value={secret} back={`/admin/webhooks/${endpoint.id}`}>
          <p>
            The previous secret keeps signing alongside it until <Time at={endpoint.previousSecretUntil} />: deploy the new one before then.
          </p>
        </ShownOnce>
      )
    }))
  )

  action(routes, "/admin/webhooks/:endpointId/delete", { route: deleteWebhookEndpoint }, ({ params }) =>
    Effect.gen(function* () {
      const endpoint = yield* WebhookAdmin.find(params["endpointId"] ?? "")
      yield* WebhookAdmin.remove(endpoint.id)
      return { notice: `Endpoint ${endpoint.url} deleted.`, to: `/admin/businesses/${endpoint.businessId}`, detail: { url: endpoint.url } }
    })
  )

  action(routes, "/admin/webhooks/:endpointId/deliveries/:deliveryId/replay", { route: replayWebhookDelivery }, ({ params }) =>
    Effect.map(WebhookAdmin.replay(params["endpointId"] ?? "", params["deliveryId"] ?? ""), (replayed) => ({
      notice: `Event ${replayed.eventType} sent again (the same webhook-id).`,
      detail: { event: replayed.eventId, job: replayed.jobId }
    }))
  )
}
