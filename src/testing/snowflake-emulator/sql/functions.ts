/**
 * Snowflake functions the engine lacks or names differently. Each session's
 * engine connection gets the `sf_*` macros; the translator renames calls.
 */

/** Temporary macros created on every engine connection. */
export const SESSION_MACROS: readonly string[] = [
  'sf_parse_json(x) AS CAST(x AS JSON)',
  'sf_try_parse_json(x) AS CASE WHEN json_valid(x) THEN CAST(x AS JSON) ELSE NULL END',
  'sf_to_variant(x) AS to_json(x)',
  'sf_iff(c, a, b) AS CASE WHEN c THEN a ELSE b END',
  'sf_nvl2(x, a, b) AS CASE WHEN x IS NOT NULL THEN a ELSE b END',
  'sf_zeroifnull(x) AS coalesce(x, 0)',
  'sf_nullifzero(x) AS nullif(x, 0)',
  'sf_div0(a, b) AS CASE WHEN b = 0 THEN 0 ELSE a / b END',
  'sf_equal_null(a, b) AS a IS NOT DISTINCT FROM b',
  "sf_to_binary(x, fmt := 'HEX') AS CASE upper(fmt) WHEN 'HEX' THEN unhex(x) WHEN 'BASE64' THEN from_base64(x) ELSE encode(x) END",
  'sf_hex_decode_binary(x) AS unhex(x)',
  'sf_array_size(a) AS json_array_length(a)',
  "sf_array_contains(v, a) AS list_contains(CAST(json_extract(a, '$[*]') AS VARCHAR[]), CAST(to_json(v) AS VARCHAR))",
  "sf_get_path(v, p) AS json_extract(v, '$.' || p)",
  "sf_json_extract_path_text(v, p) AS json_extract_string(v, '$.' || p)",
  "sf_time_from_parts(h, m, s, ns := 0) AS CAST('00:00:00' AS TIME) + to_microseconds(CAST(h * 3600000000 + m * 60000000 + s * 1000000 + ns // 1000 AS BIGINT))",
  // Integer arithmetic: a DOUBLE (power()) loses microseconds beyond ±2^53 µs (before 1685, after 2255).
  'sf_ts_scaled(v, s) AS make_timestamp(CASE WHEN s <= 6 THEN CAST(v AS BIGINT) * CAST(10 ** (6 - s) AS BIGINT) ELSE CAST(v AS BIGINT) // CAST(10 ** (s - 6) AS BIGINT) END)',
  'sf_to_timestamp_ntz(x) AS CAST(x AS TIMESTAMP)',
  'sf_to_timestamp_tz(x) AS CAST(x AS TIMESTAMPTZ)',
  'sf_to_date(x) AS CAST(x AS DATE)',
  'sf_to_time(x) AS CAST(x AS TIME)',
  'sf_to_varchar(x) AS CAST(x AS VARCHAR)',
  'sf_to_number(x) AS CAST(x AS DECIMAL(38,0))',
  'sf_to_double(x) AS CAST(x AS DOUBLE)',
  'sf_to_boolean(x) AS CAST(x AS BOOLEAN)',
  "sf_sysdate() AS CAST(timezone('UTC', get_current_timestamp()) AS TIMESTAMP)",
  'sf_uuid_string() AS CAST(uuid() AS VARCHAR)',
  "sf_dateadd(p, n, t) AS t + CASE lower(p) WHEN 'year' THEN to_years(CAST(n AS INTEGER)) WHEN 'month' THEN to_months(CAST(n AS INTEGER)) WHEN 'day' THEN to_days(CAST(n AS INTEGER)) WHEN 'hour' THEN to_hours(CAST(n AS BIGINT)) WHEN 'minute' THEN to_minutes(CAST(n AS BIGINT)) WHEN 'second' THEN to_seconds(CAST(n AS DOUBLE)) WHEN 'millisecond' THEN to_milliseconds(CAST(n AS BIGINT)) WHEN 'microsecond' THEN to_microseconds(CAST(n AS BIGINT)) END",
];

/** Calls renamed as they are (same arguments). */
export const RENAMES: Record<string, string> = {
  PARSE_JSON: 'sf_parse_json',
  TRY_PARSE_JSON: 'sf_try_parse_json',
  TO_VARIANT: 'sf_to_variant',
  TO_OBJECT: 'sf_to_variant',
  TO_ARRAY: 'sf_to_variant',
  IFF: 'sf_iff',
  NVL: 'coalesce',
  IFNULL: 'coalesce',
  NVL2: 'sf_nvl2',
  ZEROIFNULL: 'sf_zeroifnull',
  NULLIFZERO: 'sf_nullifzero',
  DIV0: 'sf_div0',
  EQUAL_NULL: 'sf_equal_null',
  TO_BINARY: 'sf_to_binary',
  HEX_DECODE_BINARY: 'sf_hex_decode_binary',
  HEX_ENCODE: 'hex',
  ARRAY_SIZE: 'sf_array_size',
  ARRAY_CONTAINS: 'sf_array_contains',
  GET_PATH: 'sf_get_path',
  JSON_EXTRACT_PATH_TEXT: 'sf_json_extract_path_text',
  TIME_FROM_PARTS: 'sf_time_from_parts',
  TIMEFROMPARTS: 'sf_time_from_parts',
  TO_TIMESTAMP_TZ: 'sf_to_timestamp_tz',
  TO_TIMESTAMP_LTZ: 'sf_to_timestamp_tz',
  TO_DATE: 'sf_to_date',
  DATE: 'sf_to_date',
  TO_TIME: 'sf_to_time',
  TO_NUMBER: 'sf_to_number',
  TO_DECIMAL: 'sf_to_number',
  TO_NUMERIC: 'sf_to_number',
  TO_DOUBLE: 'sf_to_double',
  TO_BOOLEAN: 'sf_to_boolean',
  SYSDATE: 'sf_sysdate',
  CURRENT_TIMESTAMP: 'get_current_timestamp',
  GETDATE: 'get_current_timestamp',
  LOCALTIMESTAMP: 'get_current_timestamp',
  UUID_STRING: 'sf_uuid_string',
  OBJECT_CONSTRUCT: 'json_object',
  LISTAGG: 'string_agg',
  STARTSWITH: 'starts_with',
  ENDSWITH: 'ends_with',
  REGEXP_LIKE: 'regexp_full_match',
  DATEADD: 'sf_dateadd',
  TIMESTAMPADD: 'sf_dateadd',
  DATEDIFF: 'date_diff',
  TIMESTAMPDIFF: 'date_diff',
};

/** Calls whose first argument is a date part written as a bare word (`DATEADD(day, …)`). */
export const DATE_PART_FIRST = new Set(['DATEADD', 'TIMESTAMPADD', 'DATEDIFF', 'TIMESTAMPDIFF']);

/** Calls answered from the session: `CURRENT_DATABASE()` and the like. */
export type SessionFunction =
  | 'CURRENT_DATABASE'
  | 'CURRENT_SCHEMA'
  | 'CURRENT_WAREHOUSE'
  | 'CURRENT_ROLE'
  | 'CURRENT_USER'
  | 'CURRENT_ACCOUNT'
  | 'CURRENT_SESSION'
  | 'CURRENT_REGION'
  | 'CURRENT_VERSION'
  | 'CURRENT_CLIENT'
  | 'LAST_QUERY_ID';

/** The names of {@link SessionFunction}. */
export const SESSION_FUNCTIONS = new Set<string>([
  'CURRENT_DATABASE',
  'CURRENT_SCHEMA',
  'CURRENT_WAREHOUSE',
  'CURRENT_ROLE',
  'CURRENT_USER',
  'CURRENT_ACCOUNT',
  'CURRENT_SESSION',
  'CURRENT_REGION',
  'CURRENT_VERSION',
  'CURRENT_CLIENT',
  'LAST_QUERY_ID',
]);

/** Snowflake date/time format elements → strftime. */
const FORMAT_ELEMENTS: [RegExp, string][] = [
  [/^YYYY/, '%Y'],
  [/^YY/, '%y'],
  [/^MMMM/, '%B'],
  [/^MON/, '%b'],
  [/^MM/, '%m'],
  [/^DD/, '%d'],
  [/^DY/, '%a'],
  [/^HH24/, '%H'],
  [/^HH12/, '%I'],
  [/^HH/, '%H'],
  [/^AM|^PM/, '%p'],
  [/^MI/, '%M'],
  [/^SS/, '%S'],
  [/^FF9/, '%n'],
  [/^FF6/, '%f'],
  [/^FF3/, '%g'],
  [/^FF/, '%n'],
  [/^TZH:TZM/, '%z'],
  [/^TZHTZM/, '%z'],
];

/** Converts a Snowflake date/time format to a strftime format. */
export function strftimeFormat(format: string): string {
  let out = '';
  let rest = format;
  while (rest.length > 0) {
    const upper = rest.toUpperCase();
    const hit = FORMAT_ELEMENTS.find(([re]) => re.test(upper));
    if (hit) {
      const len = hit[0].exec(upper)![0].length;
      out += hit[1];
      rest = rest.slice(len);
    } else if (rest[0] === '"') {
      const end = rest.indexOf('"', 1);
      out += rest.slice(1, end < 0 ? undefined : end).replace(/%/g, '%%');
      rest = end < 0 ? '' : rest.slice(end + 1);
    } else {
      out += rest[0] === '%' ? '%%' : rest[0];
      rest = rest.slice(1);
    }
  }
  return out;
}
