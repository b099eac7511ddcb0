/** otb-line's configuration: the one definition editor, runtime and lint read (issue 16). */
import { checks, defineSchema, field } from "../shared/schema";

const identity = (): ReturnType<typeof field.text> => field.text({ required: true, check: "topicLevel", samples: { valid: ["line1", "Packaging 2"], invalid: ["a/b", "+", "#", "$SYS"] } });

export const schema = defineSchema({
  type: "otb-line",
  version: 1,
  fields: {
    name: field.text(),
    enterprise: identity(),
    site: identity(),
    area: identity(),
    line: identity(),
    timeZone: field.text({ default: "UTC", required: true, check: "timeZone", samples: { valid: ["Europe/Berlin", "America/Chicago"], invalid: ["Mars/Olympus", "CEST+2"] } }),
    /** [{name, start, end, days?, stops?}]; ShiftCalendar checks times and overlaps at deploy. */
    shifts: field.json([], { json: "array", samples: { valid: ['[{"name":"A","start":"06:00","end":"14:00"}]'], invalid: ["{", '{"name":"A"}'] } }),
    defaultProduct: field.text(),
  },
  checks: { topicLevel: checks.topicLevel, timeZone: checks.timeZone },
});
