/* config: placeholder, replaced by the module's implementation. */
#include "certhub/certhub.h"
extern int ch_config_placeholder_;
int ch_config_placeholder_;
