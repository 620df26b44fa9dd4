// Benchmark smoke runs, second half of the jobs (see smoke-suite.ts).
import { smokeSuite } from './smoke-suite.js'

smokeSuite(2, 2)
