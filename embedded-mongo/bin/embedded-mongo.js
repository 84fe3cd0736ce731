#!/usr/bin/env node
'use strict';
// A committed shim so that npm can link the bin before `tsc -b` has produced dist/.
require('../dist/cli.js');
