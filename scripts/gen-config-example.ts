/** Prints config/config.example.yaml, rendered from the configuration schema (src/config/example.ts). */
import { renderConfigExample } from '../src/config/example.js';

process.stdout.write(renderConfigExample());
