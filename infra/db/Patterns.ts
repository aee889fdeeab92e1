/** `%text%` for `ILIKE`: finds `text` anywhere, with LIKE's own wildcards (`%`, `_`) and its escape (`\`) in it matched literally. */
export const containsPattern = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
