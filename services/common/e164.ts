/** An E.164 number as the log, the reports and the APIs hold it: "+" and at most 15 digits. */
export const E164 = /^\+\d{1,15}$/;
