/** Ids: this platform's are random UUIDs, so text of any other form names nothing here. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Whether `value` can be one of our ids (anything else is a "not found", never a question for the database). */
export const isUuid = (value: string): boolean => UUID.test(value)
