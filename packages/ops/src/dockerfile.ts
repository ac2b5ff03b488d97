import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';

/** One instruction, with `${ARG}` references of the global ARGs resolved. */
export interface Step {
  readonly keyword: string;
  /** The arguments after the flags, as written (continuations joined). */
  readonly text: string;
  /** Exec-form arguments (`["node", "x"]`), if the instruction is in that form. */
  readonly exec?: readonly string[];
  readonly flags: Readonly<Record<string, string>>;
  readonly line: number;
}

export interface Stage {
  readonly name?: string;
  readonly image: string;
  readonly steps: readonly Step[];
}

export interface ParsedDockerfile {
  readonly globalArgs: Readonly<Record<string, string>>;
  readonly stages: readonly Stage[];
}

const substitute = (s: string, args: Record<string, string>): string =>
  s.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => args[(a ?? b)!] ?? m);

const execForm = (text: string): string[] | undefined => {
  if (!text.trim().startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
};

function stepOf(i: Instruction, args: Record<string, string>): Step {
  const keyword = i.getKeyword().toUpperCase();
  const flags: Record<string, string> = {};
  const withFlags = i as Instruction & { getFlags?: () => { getName(): string; getValue(): string | null }[] };
  for (const f of withFlags.getFlags?.() ?? []) flags[f.getName()] = f.getValue() ?? '';
  // The arguments without the leading --flags, continuation lines joined.
  const raw = (i.getArgumentsContent() ?? '').replace(/\\\r?\n/g, ' ');
  const text = substitute(
    raw
      .replace(/^(\s*--[\w-]+(=\S*)?\s+)+/, '')
      .replace(/\s+/g, ' ')
      .trim(),
    args,
  );
  const exec = keyword === 'HEALTHCHECK' ? execForm(text.replace(/^.*?\bCMD\s+/, '')) : execForm(text);
  return { keyword, text, ...(exec ? { exec } : {}), flags, line: i.getRange().start.line + 1 };
}

export function parseDockerfile(content: string): ParsedDockerfile {
  const doc = DockerfileParser.parse(content);
  const globalArgs: Record<string, string> = {};
  const stages: { name?: string; image: string; steps: Step[] }[] = [];
  for (const i of doc.getInstructions()) {
    const keyword = i.getKeyword().toUpperCase();
    if (keyword === 'ARG' && stages.length === 0) {
      const m = /^(\w+)=(.*)$/.exec((i.getArgumentsContent() ?? '').trim());
      if (m) globalArgs[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
      continue;
    }
    if (keyword === 'FROM') {
      const parts = substitute((i.getArgumentsContent() ?? '').replace(/--[\w-]+=\S+\s+/g, '').trim(), globalArgs).split(/\s+/);
      const as = parts.findIndex((p) => p.toUpperCase() === 'AS');
      stages.push({ image: parts[0]!, ...(as > 0 && parts[as + 1] ? { name: parts[as + 1] } : {}), steps: [] });
      continue;
    }
    stages.at(-1)?.steps.push(stepOf(i, globalArgs));
  }
  return { globalArgs, stages };
}

/** ENV of a stage, in order (later wins). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of stage.steps.filter((x) => x.keyword === 'ENV')) {
    for (const m of s.text.matchAll(/(\w+)=("([^"]*)"|\S+)/g)) env[m[1]!] = m[3] ?? m[2]!;
  }
  return env;
}

const last = (stage: Stage, keyword: string): Step | undefined => stage.steps.filter((s) => s.keyword === keyword).at(-1);

/**
 * What the project asks of its image, on top of the Dockerfile language server's own validation
 * (dockerfile-utils: syntax, arguments, duplicates; every warning counts). hadolint ships as a
 * binary only, so it is not available here; these rules are the checks it would make that matter
 * for this image, plus the project's own (digest pins, non-root, HEALTHCHECK, GRPC_HOST, /data).
 */
export function lintDockerfile(content: string): string[] {
  const problems: string[] = [];
  for (const d of validate(content, {})) problems.push(`line ${d.range.start.line + 1}: ${d.message}`);
  const { stages } = parseDockerfile(content);
  if (stages.length < 2) problems.push('multi-stage: expected a build stage and a runtime stage');
  const names = new Set(stages.map((s) => s.name).filter(Boolean));
  for (const s of stages) {
    if (names.has(s.image)) continue;
    if (!/@sha256:[0-9a-f]{64}$/.test(s.image)) problems.push(`FROM ${s.image}: pin the base image by digest (@sha256:…)`);
  }
  for (const s of stages) {
    for (const step of s.steps) {
      if (step.keyword === 'ADD') problems.push(`line ${step.line}: use COPY, not ADD`);
      if (step.keyword === 'COPY' && step.flags.from === undefined && /^\.\s/.test(step.text))
        problems.push(`line ${step.line}: COPY . copies the whole context; name what the build needs`);
      if (step.keyword === 'RUN' && /\bsudo\b/.test(step.text)) problems.push(`line ${step.line}: no sudo`);
      if (step.keyword === 'RUN' && /\bcurl\b.*\|\s*(ba)?sh/.test(step.text)) problems.push(`line ${step.line}: no curl | sh`);
    }
  }
  const final = stages.at(-1);
  if (!final) return problems;
  const user = last(final, 'USER');
  if (!user) problems.push('runtime stage: no USER (it would run as root)');
  else if (!/^[1-9]\d*:[1-9]\d*$/.test(user.text))
    problems.push(`USER ${user.text}: expected a numeric non-root uid:gid (Kubernetes checks runAsNonRoot by number)`);
  const health = last(final, 'HEALTHCHECK');
  if (!health || /^NONE$/i.test(health.text)) problems.push('runtime stage: no HEALTHCHECK');
  else if (!health.exec) problems.push(`line ${health.line}: HEALTHCHECK CMD in exec form (JSON array)`);
  for (const k of ['ENTRYPOINT', 'CMD']) {
    const s = last(final, k);
    if (!s) problems.push(`runtime stage: no ${k}`);
    else if (!s.exec) problems.push(`line ${s.line}: ${k} in exec form (JSON array), so signals reach node`);
  }
  const env = envOf(final);
  if (env.GRPC_HOST !== '0.0.0.0')
    problems.push(`runtime stage: ENV GRPC_HOST=0.0.0.0 (got ${env.GRPC_HOST ?? 'unset'}; 127.0.0.1 is unreachable from outside the container)`);
  if (env.NODE_ENV !== 'production') problems.push('runtime stage: ENV NODE_ENV=production');
  for (const step of final.steps) {
    if (step.keyword === 'COPY' && step.flags.from === undefined)
      problems.push(`line ${step.line}: the runtime stage copies built files from the build stage only (COPY --from=…)`);
    if (step.keyword === 'RUN' && /\bnpm\b|\bnpx\b|\byarn\b/.test(step.text)) problems.push(`line ${step.line}: no package installs in the runtime stage`);
  }
  const copies = final.steps.filter((s) => s.keyword === 'COPY');
  for (const c of copies)
    if (c.flags.chown === undefined || !/^0(:0)?$/.test(c.flags.chown))
      problems.push(`line ${c.line}: COPY --chown=0:0, so the app's user cannot change its code`);
  // The writable data folder: owned by the runtime user, declared a VOLUME, DATA_DIR inside it.
  const volume = last(final, 'VOLUME');
  const volumes = volume?.exec ?? (volume ? volume.text.split(/\s+/) : []);
  if (volumes.length === 0) problems.push('runtime stage: no VOLUME for the data folder');
  const uid = user?.text.split(':')[0];
  for (const v of volumes) {
    if (!final.steps.some((s) => s.keyword === 'RUN' && new RegExp(`chown ${uid}(:\\d+)? ${v}(\\s|$)`).test(s.text)))
      problems.push(`VOLUME ${v}: not chowned to the runtime user ${uid}`);
  }
  if (env.DATA_DIR === undefined || !volumes.some((v) => env.DATA_DIR === v || env.DATA_DIR!.startsWith(`${v}/`)))
    problems.push(`ENV DATA_DIR (${env.DATA_DIR ?? 'unset'}) must lie in a VOLUME`);
  return problems;
}
