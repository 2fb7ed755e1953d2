export * from './givenWhenThen.js';
