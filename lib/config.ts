/**
 * The only place that reads configuration. Every setting is an environment variable described once
 * in settings.ts (type, bounds, default, meaning, name in Config); `loadConfig` validates the
 * environment against it at start-up and returns a frozen Config, typed from the same table, with
 * units in its names.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';

import { CONFIG_SCHEMA, type Setting } from './settings.ts';

export {
  CONFIG_SCHEMA,
  ENGINE_CHOICES,
  type EngineChoice,
  LOG_LEVELS,
  type LogLevel,
} from './settings.ts';

type Settings = typeof CONFIG_SCHEMA;
export type SettingName = keyof Settings;
type SettingValue<S> = S extends { auto: true }
  ? number | 'auto'
  : S extends { list: true }
    ? readonly string[]
    : S extends { type: 'integer' }
      ? number
      : S extends { type: 'boolean' }
        ? boolean
        : S extends { enum: readonly (infer Choice)[] }
          ? Choice
          : string;

/** The settings by their Config names, typed from the table. */
export type Config = { readonly [N in SettingName as Settings[N]['key']]: SettingValue<Settings[N]> };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A setting as JSON Schema: `auto` integers accept either. */
function jsonSchemaOf({ auto, key: _key, scale: _scale, list: _list, secret: _secret, ...setting }: Setting): object {
  if (!auto) return setting;
  const { default: fallback, description, ...integer } = setting;
  return { anyOf: [integer, { const: 'auto' }], default: fallback, description };
}

const validate = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true }).compile({
  type: 'object',
  properties: Object.fromEntries(Object.entries(CONFIG_SCHEMA).map(([name, setting]) => [name, jsonSchemaOf(setting)])),
});

/**
 * Reads the settings from `env` (process.env in production, a plain object in tests).
 * Empty values count as unset, so `FOO=` in a Dockerfile or serverless.yml falls back to the default.
 * Throws ConfigError naming every bad variable, its rule and the value received (never an API key).
 * API_KEYS_FILE is read here, so a missing file or a bad key stops the start-up like a bad variable.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(CONFIG_SCHEMA) as SettingName[]) {
    const value = env[name]?.trim();
    if (!value) continue;
    // LOG_LEVEL is conventionally upper case and ENGINE lower case; accept either spelling.
    raw[name] =
      name === 'LOG_LEVEL'
        ? value.toUpperCase()
        : name === 'ENGINE' || value.toLowerCase() === 'auto'
          ? value.toLowerCase()
          : value;
  }
  if (!validate(raw)) {
    // One message per variable: the first rule it broke ("or auto" when auto is also allowed).
    const problems = new Map<string, string>();
    for (const error of validate.errors ?? []) {
      const name = error.instancePath.slice(1);
      if (problems.has(name) || error.keyword === 'const' || error.keyword === 'anyOf') continue;
      const allowed =
        error.params && 'allowedValues' in error.params
          ? `: ${(error.params.allowedValues as string[]).join(', ')}`
          : '';
      const setting = (CONFIG_SCHEMA as Record<string, Setting>)[name];
      const orAuto = setting?.auto ? ' or auto' : '';
      const received = setting?.secret ? 'value not shown' : `received ${JSON.stringify(env[name])}`;
      problems.set(name, `${name} must ${error.message?.replace(/^must /, '')}${allowed}${orAuto} (${received})`);
    }
    throw new ConfigError(`Invalid configuration: ${[...problems.values()].join('; ')}`);
  }
  const v = raw as Record<SettingName, number>;
  if (v.MAX_QUEUE_IMAGES < v.MAX_IMAGES_PER_REQUEST) {
    throw new ConfigError(
      `Invalid configuration: MAX_QUEUE_IMAGES (${v.MAX_QUEUE_IMAGES}) must be at least ` +
        `MAX_IMAGES_PER_REQUEST (${v.MAX_IMAGES_PER_REQUEST}), or the largest requests could never run.`,
    );
  }
  const settings = Object.entries(CONFIG_SCHEMA) as Array<[SettingName, Setting]>;
  const config = Object.fromEntries(
    settings.map(([name, setting]) => [
      setting.key,
      setting.list ? listItems(raw[name] as string) : setting.scale ? v[name] * setting.scale : raw[name],
    ]),
  );
  config.apiKeys = apiKeys(config.apiKeys as string[], raw.API_KEYS_FILE as string);
  return Object.freeze(config) as Config;
}

const listItems = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a folder',
};

/** Fewest characters an API key may have. */
export const MIN_API_KEY_LENGTH = 16;

/**
 * Every API key the server accepts: those of API_KEYS and the lines of API_KEYS_FILE (read here, once),
 * each checked. Messages name the variable (and the key's position), never the key.
 */
function apiKeys(listed: string[], file: string): readonly string[] {
  const problems: string[] = [];
  const check = (key: string, where: string) => {
    if (key.length < MIN_API_KEY_LENGTH)
      problems.push(`${where} is ${key.length} characters long; keys need at least ${MIN_API_KEY_LENGTH}`);
    else if (!/^[\x21-\x7e]+$/.test(key))
      problems.push(`${where} has a space or a character other than printable ASCII`);
  };
  for (const [i, key] of listed.entries()) check(key, `API_KEYS: key ${i + 1} of ${listed.length}`);
  const keys = [...listed];
  if (file) {
    const filePath = path.resolve(file);
    let text: string;
    try {
      text = readFileSync(filePath, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      const reason = READ_ERRORS[code] ?? (code || (error as Error).message);
      throw new ConfigError(`Invalid configuration: API_KEYS_FILE ${filePath} could not be read: ${reason}`);
    }
    const before = keys.length;
    for (const [i, line] of text
      .replace(/^\uFEFF/, '')
      .split('\n')
      .entries()) {
      const key = line.trim();
      if (!key || key.startsWith('#')) continue;
      check(key, `API_KEYS_FILE ${filePath}: the key on line ${i + 1}`);
      keys.push(key);
    }
    if (keys.length === before)
      problems.push(`API_KEYS_FILE ${filePath} has no keys (only blank lines and # comments)`);
  }
  if (problems.length) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  return Object.freeze([...new Set(keys)]);
}
