/**
 * Progress lines: one poll of long work (a cluster's migration, say) as fields, and the pure
 * formatter that makes a line of them fit a terminal. Where a line goes and how often is the
 * logger's business (core/log.ts); what the fields say is the caller's (fleet/report.ts).
 */

/** One line of progress, e.g. one cluster in one poll cycle. */
export interface ProgressItem {
  /** Which line this is (e.g. `staging/apps`): off a terminal a line is printed again only when its `key` changed. */
  readonly id: string;
  /** The line's fields, the most important first: a narrow terminal drops them from the right. */
  readonly parts: readonly string[];
  /**
   * What has to change for the line to be printed again off a terminal: the parts without the
   * ones that change every poll (elapsed time, ETA). Default: all the parts.
   */
  readonly key?: string;
  /** The line as fields, for `--log-format json`. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Between the fields of one item. */
export const FIELD_SEPARATOR = " · ";
/** Between the items of one line (one per cluster). */
export const ITEM_SEPARATOR = " | ";
const ELLIPSIS = "…";

/** The columns `text` takes on a terminal: one per code point (amiroll's lines hold no wide characters). */
export function displayWidth(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The fields of one item on one line, unfitted (what a log file gets). */
export function joinFields(parts: readonly string[]): string {
  return parts.join(FIELD_SEPARATOR);
}

/**
 * `items` (each a list of fields) as one line of at most `width` columns, never more, so a
 * terminal never wraps it. While it is too wide: the item with the most fields left loses its
 * last one (the rightmost such item first); once every item is down to its first field, items
 * go from the right (an ellipsis says so); a single field still too wide is cut, with an
 * ellipsis. Whole fields go before any is cut.
 */
export function fitLine(items: readonly (readonly string[])[], width: number): string {
  if (width <= 0) return "";
  const kept = items.map((parts) => [...parts]).filter((parts) => parts.length > 0);
  let droppedItems = false;
  const render = () => kept.map(joinFields).join(ITEM_SEPARATOR) + (droppedItems ? `${ITEM_SEPARATOR}${ELLIPSIS}` : "");
  for (let line = render(); ; line = render()) {
    if (displayWidth(line) <= width) return line;
    const most = Math.max(0, ...kept.map((parts) => parts.length));
    if (most > 1) {
      const index = kept.map((parts) => parts.length).lastIndexOf(most);
      kept[index].pop();
    } else if (kept.length > 1) {
      kept.pop();
      droppedItems = true;
    } else {
      return cut(kept.length ? joinFields(kept[0]) : "", width);
    }
  }
}

/** `text` cut to `width` columns, the last of them an ellipsis when anything was cut. */
function cut(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join("")}${ELLIPSIS}`;
}
