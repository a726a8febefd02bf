/* Placeholder until the CLI lands. */
#include <stdio.h>
#include "certhub/certhub.h"
int main(void)
{
  printf("certhub %s\n", certhub_version());
  return 0;
}
