/** The parts of two tokenizer packages without bundled types that bench/tokenizers.ts uses. */
declare module 'ltx/src/parsers/ltx.js' {
  import type { EventEmitter } from 'node:events';
  /** ltx's own SAX tokenizer: startElement(name, attrs), endElement(name), text(decoded), error. */
  export default class SaxLtx extends EventEmitter {
    write(data: string): void;
    end(data?: string): void;
  }
}

declare module 'saxen' {
  export class Parser {
    on(event: string, cb: (...args: never[]) => unknown): this;
    parse(xml: string): this;
  }
}
