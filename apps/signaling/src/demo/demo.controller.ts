import { readFile } from 'node:fs/promises';
import { Controller, Get, NotFoundException, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';

/** The files of the demo page, with their content types; nothing else is served. */
const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'demo.js': 'text/javascript; charset=utf-8',
  'demo.css': 'text/css; charset=utf-8',
  'sscontrol-client.js': 'text/javascript; charset=utf-8',
  'sscontrol-client.js.map': 'application/json; charset=utf-8',
};

/**
 * The page talks to this gateway (or another one the user types in) over `ws:`/`wss:` and loads
 * nothing from anywhere else.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data:",
  "media-src 'self' blob: mediastream:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Serves the demo page at `/demo/`: the static files of ./static/ and the browser bundle of
 * `@sscontrol/client` that `scripts/build-demo.mjs` writes beside them in dist/. Files are read
 * once and kept in memory (a few hundred KiB).
 */
@Controller('demo')
export class DemoController {
  private readonly dir = new URL('./static/', import.meta.url);
  private readonly cache = new Map<string, Buffer>();

  @Get()
  async index(@Req() req: Request, @Res() res: Response): Promise<void> {
    // The page's URLs are relative: /demo must become /demo/ (relative, so a path prefix added
    // by a proxy is kept).
    if (!req.path.endsWith('/')) {
      res.redirect(301, 'demo/');
      return;
    }
    await this.send('index.html', res);
  }

  @Get(':file')
  async file(@Param('file') file: string, @Res() res: Response): Promise<void> {
    await this.send(file, res);
  }

  private async send(file: string, res: Response): Promise<void> {
    const type = Object.hasOwn(FILES, file) ? FILES[file] : undefined;
    if (type === undefined) throw new NotFoundException();
    let body = this.cache.get(file);
    if (!body) {
      try {
        body = await readFile(new URL(file, this.dir));
      } catch {
        throw new NotFoundException(
          `${file} is missing: the demo is served from the build (npm run build)`,
        );
      }
      this.cache.set(file, body);
    }
    res
      .status(200)
      .type(type)
      .set({
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      })
      .send(body);
  }
}
