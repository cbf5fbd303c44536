import pg from 'pg';

type Parser = (value: string) => unknown;

/**
 * Type parsers for the store's connections: int8 as `number` (positions, revisions and
 * milliseconds stay below 2^53), everything else as node-postgres parses it.
 */
export const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): Parser {
    if (oid === 20) return (v: string) => Number(v);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- pg types getTypeParser as any
    const parser: Parser = pg.types.getTypeParser(oid, format ?? 'text');
    return parser;
  },
};
