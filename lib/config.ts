/**
 * The only place that reads configuration. Every setting is an environment variable described once
 * in settings.ts (type, bounds, default, meaning, name in Config); `loadConfig` validates the
 * environment against it at start-up and returns a frozen Config, typed from the same table, with
 * units in its names.
 */
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
function jsonSchemaOf({ auto, key: _key, scale: _scale, ...setting }: Setting): object {
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
 * Throws ConfigError naming every bad variable, its rule and the value received.
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
      const orAuto = (CONFIG_SCHEMA as Record<string, Setting>)[name]?.auto ? ' or auto' : '';
      problems.set(
        name,
        `${name} must ${error.message?.replace(/^must /, '')}${allowed}${orAuto} ` +
          `(received ${JSON.stringify(env[name])})`,
      );
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
  return Object.freeze(
    Object.fromEntries(
      settings.map(([name, setting]) => [setting.key, setting.scale ? v[name] * setting.scale : raw[name]]),
    ),
  ) as Config;
}
