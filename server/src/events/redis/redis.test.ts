import { describeEventLogContract } from '../eventLog.contract.js';
import { openTestRedisEventLog } from './__tests__/testRedis.js';

describeEventLogContract('redis', () => openTestRedisEventLog());
