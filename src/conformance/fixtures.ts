import { z } from 'zod';
import { ToolError } from '../errors.js';
import { type FormSchema, needsInput } from '../policy/confirm.js';
import type { PromptDefinition, ResourceDefinition } from '../resources/index.js';
import { type AnyTool, defineTool } from '../tools/define.js';

/**
 * The fixtures the official MCP conformance suite calls by name (test_* tools, test://
 * resources, test_* prompts), for `attest serve --conformance-fixtures` on loopback only.
 * They are registered on the same server factory and run through the same pipeline, audit
 * and resource wrappers as Attest's own tools, so the suite checks Attest's protocol
 * handling, not a separate server. Fixtures exist only for what Attest serves: nothing here
 * asks the client's model (sampling), its roots, or subscribes to resources.
 */

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

const none = z.object({});
const textOut = z.object({ text: z.string() });

function fixture(
  name: string,
  description: string,
  handle: AnyTool['handle'],
  options: { input?: z.ZodObject; content?: AnyTool['content'] } = {},
): AnyTool {
  return defineTool({
    name,
    title: `Conformance fixture ${name}`,
    description: `${description} (a fixture of the MCP conformance suite; served only by attest serve --conformance-fixtures).`,
    kind: 'read',
    input: options.input ?? none,
    output: textOut,
    handle: handle as never,
    text: (r) => r.text,
    ...(options.content ? { content: options.content } : {}),
  }) as unknown as AnyTool;
}

const stringField = (description: string) => ({ type: 'string', description });
const form = (properties: FormSchema['properties'], required: string[] = []): FormSchema => ({
  type: 'object',
  properties,
  required,
});

/** An accepted form answer's content for `key`, when the retry carried one. */
function accepted(responses: Record<string, unknown> | null, key: string): Record<string, unknown> | null {
  const r = responses?.[key] as { action?: unknown; content?: unknown } | undefined;
  return r?.action === 'accept' && typeof r.content === 'object' && r.content !== null
    ? (r.content as Record<string, unknown>)
    : null;
}

/** An elicitation answer of any action for `key` (for fixtures that report what came back). */
function answered(
  responses: Record<string, unknown> | null,
  key: string,
): { action: string; content: unknown } | null {
  const r = responses?.[key] as { action?: unknown; content?: unknown } | undefined;
  return typeof r?.action === 'string' ? { action: r.action, content: r.content ?? {} } : null;
}

const tools: AnyTool[] = [
  fixture('test_simple_text', 'Answers one text block', () => ({
    text: 'This is a simple text response for testing.',
  })),
  fixture('test_image_content', 'Answers an image block', () => ({ text: 'image' }), {
    content: () => [{ type: 'image', data: PNG, mimeType: 'image/png' }],
  }),
  fixture('test_audio_content', 'Answers an audio block', () => ({ text: 'audio' }), {
    content: () => [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }],
  }),
  fixture('test_embedded_resource', 'Answers an embedded resource', () => ({ text: 'resource' }), {
    content: () => [
      {
        type: 'resource',
        resource: {
          uri: 'test://embedded-resource',
          mimeType: 'text/plain',
          text: 'This is an embedded resource content.',
        },
      },
    ],
  }),
  fixture('test_multiple_content_types', 'Answers text, an image and a resource', () => ({ text: 'mixed' }), {
    content: () => [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: PNG, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: {
          uri: 'test://mixed-content-resource',
          mimeType: 'application/json',
          text: JSON.stringify({ test: 'data', value: 123 }),
        },
      },
    ],
  }),
  fixture('test_error_handling', 'Always fails as a tool error', () => {
    throw new ToolError(
      'This tool intentionally returns an error for testing. Nothing was done.',
      'bad_input',
    );
  }),
  fixture('test_tool_with_progress', 'Reports progress 0, 50 and 100 of 100', async (_args, ctx) => {
    for (const p of [0, 50, 100]) await ctx.progress(p, 100, `Completed step ${p} of 100`);
    return { text: 'progress reported' };
  }),
  fixture('test_streaming_elicitation', 'Answers with a plain result and no request of its own', () => ({
    text: 'stream observed: result frames only, no top-level requests',
  })),
  fixture(
    'test_missing_capability',
    'Asks through a form whatever the client declared, so an undeclared capability is refused (-32021)',
    () =>
      needsInput(
        { confirm: { kind: 'form', message: 'Confirm?', schema: form({ ok: { type: 'boolean' } }, ['ok']) } },
        null,
      ),
  ),
  fixture('test_logging_tool', 'Runs without sending log messages (Attest logs to stderr only)', () => ({
    text: 'no log messages: Attest logs to stderr, never to the client',
  })),
  fixture(
    'test_elicitation',
    'Asks the human one question through a form',
    (args, ctx) => {
      const a = answered(ctx.input.responses, 'response');
      if (!a) {
        return needsInput(
          {
            response: {
              kind: 'form',
              message: String((args as { message: string }).message),
              schema: form({ response: stringField("User's response") }, ['response']),
            },
          },
          null,
        );
      }
      return { text: `User response: action=${a.action}, content=${JSON.stringify(a.content)}` };
    },
    { input: z.object({ message: z.string().describe('The message to show the user') }) },
  ),
  fixture(
    'test_elicitation_sep1034_defaults',
    'Asks through a form whose fields have defaults',
    (_args, ctx) => {
      const a = answered(ctx.input.responses, 'defaults');
      if (!a) {
        return needsInput(
          {
            defaults: {
              kind: 'form',
              message: 'Please review and update the form fields with defaults',
              schema: form({
                name: { type: 'string', description: 'User name', default: 'John Doe' },
                age: { type: 'integer', description: 'User age', default: 30 },
                score: { type: 'number', description: 'User score', default: 95.5 },
                status: {
                  type: 'string',
                  description: 'User status',
                  enum: ['active', 'inactive', 'pending'],
                  default: 'active',
                },
                verified: { type: 'boolean', description: 'Verification status', default: true },
              }),
            },
          },
          null,
        );
      }
      return { text: `Elicitation completed: action=${a.action}, content=${JSON.stringify(a.content)}` };
    },
  ),
  fixture('test_elicitation_sep1330_enums', 'Asks through a form with every kind of enum', (_args, ctx) => {
    const a = answered(ctx.input.responses, 'enums');
    if (!a) {
      return needsInput(
        {
          enums: {
            kind: 'form',
            message: 'Please select options from the enum fields',
            schema: form({
              untitledSingle: {
                type: 'string',
                description: 'Select one option',
                enum: ['option1', 'option2', 'option3'],
              },
              titledSingle: {
                type: 'string',
                description: 'Select one option with titles',
                oneOf: [
                  { const: 'value1', title: 'First Option' },
                  { const: 'value2', title: 'Second Option' },
                  { const: 'value3', title: 'Third Option' },
                ],
              },
              legacyEnum: {
                type: 'string',
                description: 'Select one option (legacy)',
                enum: ['opt1', 'opt2', 'opt3'],
                enumNames: ['Option One', 'Option Two', 'Option Three'],
              },
              untitledMulti: {
                type: 'array',
                description: 'Select multiple options',
                minItems: 1,
                maxItems: 3,
                items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
              },
              titledMulti: {
                type: 'array',
                description: 'Select multiple options with titles',
                minItems: 1,
                maxItems: 3,
                items: {
                  anyOf: [
                    { const: 'value1', title: 'First Choice' },
                    { const: 'value2', title: 'Second Choice' },
                    { const: 'value3', title: 'Third Choice' },
                  ],
                },
              },
            }),
          },
        },
        null,
      );
    }
    return { text: `Elicitation completed: action=${a.action}, content=${JSON.stringify(a.content)}` };
  }),
  fixture(
    'test_input_required_result_elicitation',
    'Asks for a name (2026-07-28 input_required)',
    (_args, ctx) => {
      const name = accepted(ctx.input.responses, 'user_name')?.name;
      if (typeof name !== 'string') {
        return needsInput(
          {
            user_name: {
              kind: 'form',
              message: 'What is your name?',
              schema: form({ name: { type: 'string' } }, ['name']),
            },
          },
          null,
        );
      }
      return { text: `Hello, ${name}!` };
    },
  ),
  fixture(
    'test_input_required_result_request_state',
    'Asks to confirm, with a requestState',
    (_args, ctx) => {
      if (ctx.input.state?.fixture === 'request_state' && accepted(ctx.input.responses, 'confirm')) {
        return { text: 'state-ok: requestState verified and confirmation received' };
      }
      return needsInput(
        {
          confirm: {
            kind: 'form',
            message: 'Please confirm',
            schema: form({ ok: { type: 'boolean' } }, ['ok']),
          },
        },
        { fixture: 'request_state' },
      );
    },
  ),
  fixture(
    'test_input_required_result_tampered_state',
    'Asks to confirm; a tampered requestState is refused',
    (_args, ctx) => {
      if (ctx.input.state?.fixture === 'tampered_state' && accepted(ctx.input.responses, 'confirm')) {
        return { text: 'integrity-ok: requestState verified' };
      }
      return needsInput(
        {
          confirm: {
            kind: 'form',
            message: 'Please confirm',
            schema: form({ ok: { type: 'boolean' } }, ['ok']),
          },
        },
        { fixture: 'tampered_state' },
      );
    },
  ),
  fixture('test_input_required_result_multi_round', 'Asks two questions in two rounds', (_args, ctx) => {
    const state = ctx.input.state?.fixture === 'multi_round' ? ctx.input.state : null;
    const round = typeof state?.round === 'number' ? state.round : 0;
    if (round === 0) {
      return needsInput(
        {
          step1: {
            kind: 'form',
            message: 'Step 1: What is your name?',
            schema: form({ name: { type: 'string' } }, ['name']),
          },
        },
        { fixture: 'multi_round', round: 1 },
      );
    }
    if (round === 1) {
      const name = accepted(ctx.input.responses, 'step1')?.name;
      return needsInput(
        {
          step2: {
            kind: 'form',
            message: 'Step 2: What is your favorite color?',
            schema: form({ color: { type: 'string' } }, ['color']),
          },
        },
        { fixture: 'multi_round', round: 2, name: typeof name === 'string' ? name.slice(0, 200) : 'unknown' },
      );
    }
    const color = accepted(ctx.input.responses, 'step2')?.color;
    return {
      text: `Multi-round complete: ${String(state?.name)} likes ${typeof color === 'string' ? color : 'unknown'}`,
    };
  }),
  fixture(
    'test_input_required_result_capabilities',
    'Asks only for what the client declared it can answer (Attest asks only through forms)',
    (_args, ctx) => {
      if (ctx.input.responses !== null) return { text: 'Capability-aware input requests fulfilled' };
      if (!ctx.input.form) return { text: 'No declared client capability supports an in-band input request' };
      return needsInput(
        {
          user_name: {
            kind: 'form',
            message: 'What is your name?',
            schema: form({ name: { type: 'string' } }, ['name']),
          },
        },
        null,
      );
    },
  ),
];

const resources: ResourceDefinition[] = [
  {
    kind: 'static',
    name: 'static-text',
    uri: 'test://static-text',
    title: 'Static Text Resource',
    description: 'A static text resource (conformance fixture)',
    mimeType: 'text/plain',
    read: () => ({
      contents: [
        {
          uri: 'test://static-text',
          mimeType: 'text/plain',
          text: 'This is the content of the static text resource.',
        },
      ],
    }),
  },
  {
    kind: 'static',
    name: 'static-binary',
    uri: 'test://static-binary',
    title: 'Static Binary Resource',
    description: 'A static binary resource (conformance fixture)',
    mimeType: 'image/png',
    read: () => ({ contents: [{ uri: 'test://static-binary', mimeType: 'image/png', blob: PNG }] }),
  },
  {
    kind: 'template',
    name: 'template',
    uriTemplate: 'test://template/{id}/data',
    title: 'Resource Template',
    description: 'A resource template with parameter substitution (conformance fixture)',
    mimeType: 'application/json',
    read: (uri, vars) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'application/json',
          text: JSON.stringify({ id: vars.id, templateTest: true, data: `Data for ID: ${vars.id}` }),
        },
      ],
    }),
  },
  {
    kind: 'static',
    name: 'watched-resource',
    uri: 'test://watched-resource',
    title: 'Watched Resource',
    description: 'A static resource (conformance fixture); Attest offers no subscriptions',
    mimeType: 'text/plain',
    read: () => ({
      contents: [
        { uri: 'test://watched-resource', mimeType: 'text/plain', text: 'Watched resource content' },
      ],
    }),
  },
];

const prompts: PromptDefinition[] = [
  {
    name: 'test_simple_prompt',
    title: 'Simple Test Prompt',
    description: 'A prompt without arguments (conformance fixture)',
    args: {},
    get: () => ({
      messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
    }),
  },
  {
    name: 'test_prompt_with_arguments',
    title: 'Prompt With Arguments',
    description: 'A prompt with two arguments (conformance fixture)',
    args: {
      arg1: { description: 'First test argument', complete: () => [] },
      arg2: { description: 'Second test argument' },
    },
    get: (a) => ({
      messages: [
        {
          role: 'user',
          content: { type: 'text', text: `Prompt with arguments: arg1='${a.arg1}', arg2='${a.arg2}'` },
        },
      ],
    }),
  },
  {
    name: 'test_prompt_with_embedded_resource',
    title: 'Prompt With Embedded Resource',
    description: 'A prompt that embeds a resource (conformance fixture)',
    args: { resourceUri: { description: 'URI of the resource to embed' } },
    get: (a) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: a.resourceUri ?? '',
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  },
  {
    name: 'test_prompt_with_image',
    title: 'Prompt With Image',
    description: 'A prompt that includes an image (conformance fixture)',
    args: {},
    get: () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    }),
  },
  {
    name: 'test_input_required_result_prompt',
    title: 'MRTR Prompt',
    description: 'A prompt that asks for context first (conformance fixture)',
    args: {},
    get: (_a, ctx) => {
      const context = accepted(ctx.input.responses, 'user_context')?.context;
      if (typeof context !== 'string') {
        return needsInput(
          {
            user_context: {
              kind: 'form',
              message: 'What context should the prompt use?',
              schema: form({ context: { type: 'string' } }, ['context']),
            },
          },
          null,
        );
      }
      return {
        messages: [
          { role: 'user', content: { type: 'text', text: `Use the following context: ${context}` } },
        ],
      };
    },
  },
];

export function conformanceFixtures(): {
  tools: AnyTool[];
  resources: ResourceDefinition[];
  prompts: PromptDefinition[];
} {
  return { tools, resources, prompts };
}
