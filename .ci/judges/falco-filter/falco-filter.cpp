// falco-filter compiles Falco conditions with libsinsp's own filter compiler
// (sinsp_filter_compiler), as Debian ships it in libfalcosecurity0-dev. It is the
// "conditions compile" judge of generator/internal/judge/falco: the Go test expands
// the rendered rules' macros, lists and exceptions into plain filter expressions
// and feeds them here.
//
//   falco-filter fields     prints every field the library knows, one a line
//   falco-filter compile    reads "name<TAB>condition" lines on stdin and prints
//                           "ok<TAB>name" or "error<TAB>name<TAB>message" for each
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <sinsp.h>
#include <filter.h>
#include <filter_check_list.h>

static int fields() {
	std::vector<const filter_check_info*> infos;
	g_filterlist.get_all_fields(infos);
	for (const auto* info : infos) {
		for (int32_t i = 0; i < info->m_nfields; i++) {
			std::cout << info->m_fields[i].m_name << "\n";
		}
	}
	return 0;
}

static int compile() {
	sinsp inspector;
	std::string line;
	int failed = 0;
	while (std::getline(std::cin, line)) {
		auto tab = line.find('\t');
		if (tab == std::string::npos) {
			std::cout << "error\t?\tinput line without a tab\n";
			failed++;
			continue;
		}
		std::string name = line.substr(0, tab), cond = line.substr(tab + 1);
		try {
			sinsp_filter_compiler compiler(&inspector, cond);
			delete compiler.compile();
			std::cout << "ok\t" << name << "\n";
		} catch (const std::exception& e) {
			std::string msg = e.what();
			for (auto& c : msg) {
				if (c == '\n' || c == '\t') c = ' ';
			}
			std::cout << "error\t" << name << "\t" << msg << "\n";
			failed++;
		}
	}
	return failed > 0 ? 1 : 0;
}

// finish flushes and exits without running the library's static destructors, which
// crash on an inspector that never opened a capture.
static int finish(int code) {
	std::cout.flush();
	_exit(code);
}

int main(int argc, char** argv) {
	std::string cmd = argc > 1 ? argv[1] : "";
	if (cmd == "fields") return finish(fields());
	if (cmd == "compile") return finish(compile());
	std::cerr << "usage: falco-filter fields | compile < name<TAB>condition lines\n";
	return 2;
}
