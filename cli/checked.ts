/** The checked element access of nodes/shared/checked.ts, under the name cli/ code imports. */
export { at, el } from "../nodes/shared/checked";
