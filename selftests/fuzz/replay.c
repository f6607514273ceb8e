// SPDX-License-Identifier: GPL-2.0
/*
 * Run the fuzz target over corpus files without libFuzzer, so the corpus
 * also runs under gcc's sanitizers:  replay FILE|DIR...
 * Exits 0 when every input ran (a violated property aborts), 1 on I/O
 * errors or when no input was found.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		perror(path);
		fclose(f);
		return -1;
	}
	/* exactly len bytes, so ASan sees overreads */
	buf = malloc(len ? len : 1);
	if (!buf || fread(buf, 1, len, f) != (size_t)len) {
		fprintf(stderr, "%s: read error\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int i, n = 0, err = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		struct dirent *de;
		DIR *d;

		if (stat(argv[i], &st)) {
			perror(argv[i]);
			err = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			err |= run_file(argv[i]) ? 1 : 0;
			n++;
			continue;
		}
		d = opendir(argv[i]);
		if (!d) {
			perror(argv[i]);
			err = 1;
			continue;
		}
		while ((de = readdir(d))) {
			char path[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 de->d_name);
			err |= run_file(path) ? 1 : 0;
			n++;
		}
		closedir(d);
	}
	printf("replay: %d inputs, %s\n", n, err ? "I/O errors" : "all ran");
	return err || !n;
}
