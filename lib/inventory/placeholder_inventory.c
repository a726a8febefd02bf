/* inventory: placeholder, replaced by the module's implementation. */
#include "certhub/certhub.h"
extern int ch_inventory_placeholder_;
int ch_inventory_placeholder_;
