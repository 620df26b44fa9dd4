// Benchmark smoke runs, first half of the jobs (see smoke-suite.ts).
import { smokeSuite } from './smoke-suite.js'

smokeSuite(1, 2)
