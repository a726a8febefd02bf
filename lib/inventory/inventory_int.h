/*
 * Private inventory definitions shared by read.c and import.c.
 */
#ifndef CH_INVENTORY_INT_H
#define CH_INVENTORY_INT_H

/* Reason certhub_read_file() gives (CH_ERR_NOTFOUND, position 0) for a
 * zero-length input: the importer treats it as "no certificate", not as an
 * error, for files found inside directories. */
#define CH_INV_EMPTY_FILE "empty file"

#endif
