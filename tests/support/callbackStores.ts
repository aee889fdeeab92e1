/** The callback stores over a test database, and a few rows to start from. */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { BusinessInput } from "../../domain/callbacks/Business.ts"
import { BusinessStore } from "../../infra/callbacks/BusinessStore.ts"
import { CallbackTablesLive } from "../../infra/callbacks/CallbackTables.ts"
import { RequestStore } from "../../infra/callbacks/RequestStore.ts"
import { Transaction } from "../../infra/db/Transaction.ts"
import { Metrics } from "../../infra/observability/Metrics.ts"
import { databaseLayer } from "./database.ts"

/** The five stores, transactions and metrics over `url`. */
export const callbackStoresRuntime = (url: string) =>
  ManagedRuntime.make(Layer.mergeAll(CallbackTablesLive, Transaction.Default).pipe(Layer.provideMerge(Layer.merge(databaseLayer(url, 2), Metrics.Default))))

export const businessInput = (fields: Partial<BusinessInput> = {}): BusinessInput => ({
  name: "Acme",
  phone: "+14155550100",
  timezone: "UTC",
  escalation: [],
  afterHours: [],
  ringSeconds: 20,
  maxConcurrentCalls: 1,
  vipPhones: [],
  smsFallback: true,
  allowedOrigins: [],
  ...fields
})

let phones = 0
/** A fresh visitor number, distinct within the process. */
export const visitorPhone = () => `+1415556${String(1000 + (phones++ % 9000))}`

/** A business and a request of it awaiting verification. */
export const pendingRequest = Effect.gen(function* () {
  const business = yield* Effect.flatMap(BusinessStore, (store) => store.create(randomUUID(), businessInput()))
  const request = yield* Effect.flatMap(RequestStore, (store) =>
    store.create({ id: randomUUID(), businessId: business.id, phone: visitorPhone(), name: undefined, note: undefined, priority: "normal", traceparent: undefined })
  )
  return { business, request }
})
