/* store: placeholder, replaced by the module's implementation. */
#include "certhub/certhub.h"
extern int ch_store_placeholder_;
int ch_store_placeholder_;
