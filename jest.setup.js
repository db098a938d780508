// Tests log only what fails unless LOG_LEVEL says otherwise.
process.env.LOG_LEVEL = process.env.LOG_LEVEL || 'error';
