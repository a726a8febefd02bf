/* x509: placeholder, replaced by the module's implementation. */
#include "certhub/certhub.h"
extern int ch_x509_placeholder_;
int ch_x509_placeholder_;
